using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Orleans;
using Orleans.Runtime;
using VNodeMesh.Grains;
using VNodeMesh.Silo.Web.Dashboard;

namespace VNodeMesh.Tests.Dashboard;

public sealed class PodTraceTests
{
    private static readonly DateTimeOffset T0 = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static PodSnapshot Pod(PodStage stage, IReadOnlyList<PodTransition> history, int dropped = 0, DateTimeOffset? running = null) =>
        new(Guid.NewGuid(), "shop", "web", "vn", stage, stage.ToPodPhase(), null, history.Max(t => t.Attempt), null, null, T0, running, history, dropped);

    [Fact]
    public void Steps_carry_the_time_since_the_previous_one_and_since_the_start_and_name_provider_calls()
    {
        var trace = PodTrace.From(Pod(PodStage.Running,
        [
            new(T0, PodStage.New, PodStage.Creating, "Admitted", 1),
            new(T0.AddMilliseconds(300), PodStage.Creating, PodStage.BackingOff, "CreateFailed", 1, "Throttling.User", "throttled"),
            new(T0.AddMilliseconds(800), PodStage.BackingOff, PodStage.Creating, "TimerElapsed", 2),
            new(T0.AddMilliseconds(900), PodStage.Creating, PodStage.Scheduling, "CreateSucceeded", 2),
            new(T0.AddSeconds(3), PodStage.Scheduling, PodStage.Running, "InstanceObserved", 2),
        ], running: T0.AddSeconds(3)), T0.AddSeconds(10));

        Assert.Equal([0, 300, 500, 100, 2100], trace.Steps.Select(s => s.SincePrevious.TotalMilliseconds));
        Assert.Equal([0, 300, 800, 900, 3000], trace.Steps.Select(s => s.SinceStart.TotalMilliseconds));
        Assert.Equal([null, "create", null, "create", "status"], trace.Steps.Select(s => s.Call?.Operation));
        Assert.False(trace.Steps[1].Call!.Succeeded);
        Assert.True(trace.Steps[3].Call!.Succeeded);
        Assert.Equal(new ProviderCallCounts(1, 1, 0, 0, 0, 0, 1), trace.Calls);
        Assert.Equal(TimeSpan.FromSeconds(3), trace.StartupLatency);
        Assert.DoesNotContain(trace.Steps, s => s.GapBefore);

        // Each stage lasts until the next transition; the running pod's last stage is open until now.
        Assert.Equal([PodStage.Creating, PodStage.BackingOff, PodStage.Creating, PodStage.Scheduling, PodStage.Running], trace.Spans.Select(s => s.Stage));
        Assert.Equal(TimeSpan.FromSeconds(7), trace.Spans[^1].Duration);
        Assert.True(trace.Spans[^1].Open);
        Assert.Equal(TimeSpan.FromMilliseconds(2100), trace.Spans[3].Duration);
    }

    [Fact]
    public void A_trace_that_dropped_transitions_shows_the_gap_after_its_first_step()
    {
        var trace = PodTrace.From(Pod(PodStage.Failed,
        [
            new(T0, PodStage.New, PodStage.Creating, "Admitted", 1),
            new(T0.AddMinutes(5), PodStage.BackingOff, PodStage.Creating, "TimerElapsed", 9),
            new(T0.AddMinutes(5).AddMilliseconds(20), PodStage.Creating, PodStage.Failed, "CreateFailed", 9, "InvalidParameter", "bad"),
        ], dropped: 16), T0.AddHours(1));

        Assert.Equal([false, true, false], trace.Steps.Select(s => s.GapBefore));
        Assert.True(trace.Spans[0].Unknown);
        Assert.False(trace.Spans[^1].Open); // a failed pod's trace is over
        Assert.Equal(TimeSpan.Zero, trace.Spans[^1].Duration);
        Assert.Null(trace.StartupLatency);
    }

    [Theory]
    [InlineData(0.4, "0 ms")]
    [InlineData(250, "250 ms")]
    [InlineData(1_500, "1.5 s")]
    [InlineData(125_000, "2 min 05 s")]
    [InlineData(7_500_000, "2 h 05 min")]
    public void Durations_read_as_a_person_would_say_them(double milliseconds, string expected) =>
        Assert.Equal(expected, DashboardPages.Duration(TimeSpan.FromMilliseconds(milliseconds)));
}

public sealed class DashboardSessionTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 3, 1, 0, 0, 0, TimeSpan.Zero));

    private DashboardSessions Sessions(string token) =>
        new(Options.Create(new DashboardOptions { Token = token, SessionLifetime = TimeSpan.FromHours(1) }), _time);

    [Fact]
    public void The_token_is_recognised_and_nothing_else_is()
    {
        var sessions = Sessions("correct-horse-battery-staple");
        Assert.True(sessions.IsToken("correct-horse-battery-staple"));
        Assert.False(sessions.IsToken("correct-horse-battery-stapl"));
        Assert.False(sessions.IsToken(""));
        Assert.False(sessions.IsToken(null));
    }

    [Fact]
    public void A_session_holds_until_it_expires_is_tamper_proof_and_ends_with_a_new_token()
    {
        var sessions = Sessions("correct-horse-battery-staple");
        var (session, expires) = sessions.Issue();

        Assert.DoesNotContain("correct-horse", session);
        Assert.Equal(_time.GetUtcNow().AddHours(1), expires);
        Assert.True(sessions.IsValid(session));
        Assert.False(sessions.IsValid(session[..^2] + "AA"));
        var dot = session.IndexOf('.');
        Assert.False(sessions.IsValid((long.Parse(session[..dot]) + 3600) + session[dot..])); // a later expiry is not signed
        Assert.False(sessions.IsValid("garbage"));
        Assert.False(Sessions("another-token-of-enough-length").IsValid(session));

        _time.Advance(TimeSpan.FromMinutes(61));
        Assert.False(sessions.IsValid(session));
    }
}

public sealed class DashboardOptionsTests
{
    private static ValidateOptionsResult Validate(DashboardOptions options, bool kubernetes = false)
    {
        var services = new ServiceCollection();
        if (kubernetes)
        {
            services.AddSingleton(new VNodeMesh.Silo.Kubernetes.KubernetesClients(new k8s.KubernetesClientConfiguration { Host = "https://127.0.0.1:1" }));
        }

        return new DashboardOptionsValidator(services.BuildServiceProvider()).Validate(null, options);
    }

    [Fact]
    public void Without_an_access_rule_the_dashboard_is_off()
    {
        var options = new DashboardOptions();
        Assert.False(options.Enabled);
        Assert.True(Validate(options).Succeeded);
    }

    [Fact]
    public void A_token_turns_it_on_with_token_access()
    {
        var options = new DashboardOptions { Token = "a-token-long-enough" };
        Assert.Equal(DashboardAuth.Token, options.EffectiveAuth);
        Assert.True(Validate(options).Succeeded);
    }

    [Theory]
    [InlineData(DashboardAuth.Token, null, false, "Token is required")]
    [InlineData(DashboardAuth.Token, "short", false, "at least 16 characters")]
    [InlineData(null, "short", false, "at least 16 characters")]
    [InlineData(DashboardAuth.None, "a-token-long-enough", false, "remove the token")]
    [InlineData(DashboardAuth.TokenReview, null, false, "needs the Kubernetes API")]
    public void A_rule_that_cannot_work_stops_the_silo_with_a_message_naming_the_setting(DashboardAuth? auth, string? token, bool kubernetes, string message)
    {
        var result = Validate(new DashboardOptions { Auth = auth, Token = token }, kubernetes);
        Assert.True(result.Failed);
        Assert.Contains(message, result.FailureMessage);
        Assert.Contains("VNodeMesh:Dashboard:", result.FailureMessage);
        if (token is not null)
        {
            Assert.DoesNotContain(token, result.FailureMessage);
        }
    }

    [Fact]
    public void Token_review_needs_the_kubernetes_api_and_open_access_must_be_said()
    {
        Assert.True(Validate(new DashboardOptions { Auth = DashboardAuth.TokenReview }, kubernetes: true).Succeeded);
        Assert.True(Validate(new DashboardOptions { Auth = DashboardAuth.None }).Succeeded);
        Assert.Equal("list pods in all namespaces", new TokenReviewOptions().Describe());
        Assert.Equal("get services/proxy vnodemesh in namespace vnodemesh-system",
            new TokenReviewOptions { Verb = "get", Resource = "services", Subresource = "proxy", Name = "vnodemesh", Namespace = "vnodemesh-system" }.Describe());
        Assert.False(new TokenReviewOptions { Resource = "" }.ChecksAccess);
    }
}

public sealed class DashboardStartupTests
{
    [Fact]
    public async Task The_silo_refuses_to_start_with_a_dashboard_rule_that_cannot_work()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var silo = await DashboardSilo.StartAsync(new Dictionary<string, string?> { ["VNodeMesh:Dashboard:Auth"] = "TokenReview" });
        });
        Assert.Contains("VNodeMesh:Dashboard:Auth is TokenReview", error.Message);
    }

    [Fact]
    public async Task Orleans_dashboard_samples_its_counters_at_the_configured_interval_and_no_faster_than_each_second()
    {
        var token = new Dictionary<string, string?> { ["VNodeMesh:Dashboard:Token"] = "a-token-long-enough" };
        await using (var silo = await DashboardSilo.StartAsync(new Dictionary<string, string?>(token) { ["VNodeMesh:Dashboard:OrleansCounterInterval"] = "00:00:03" }))
        {
            Assert.Equal(3000, silo.Services.GetRequiredService<IOptions<Orleans.Dashboard.DashboardOptions>>().Value.CounterUpdateIntervalMs);

            // Orleans' meter is read into the silo's counters at that interval too, not each second: while new
            // activations keep changing them, the counters served change about every 3 s.
            using var http = new HttpClient { BaseAddress = silo.Address };
            http.DefaultRequestHeaders.Authorization = new("Bearer", token["VNodeMesh:Dashboard:Token"]);
            var counters = $"/dashboard/SiloCounters/{silo.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToParsableString()}";
            var changes = new List<TimeSpan>();
            string? served = null;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(11))
            {
                await silo.Grains.GetGrain<IPodGrain>(Guid.NewGuid()).GetSnapshot();
                var now = await http.GetStringAsync(counters);
                if (now != served && served is not null)
                {
                    changes.Add(clock.Elapsed);
                }

                served = now;
                await Task.Delay(100);
            }

            Assert.True(changes.Count >= 2, $"the counters changed {changes.Count} times in 11 s");
            var gaps = changes.Zip(changes.Skip(1), (earlier, later) => later - earlier).ToList();
            Assert.All(gaps, gap => Assert.InRange(gap, TimeSpan.FromSeconds(2.5), TimeSpan.FromSeconds(6)));
        }

        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var silo = await DashboardSilo.StartAsync(new Dictionary<string, string?>(token) { ["VNodeMesh:Dashboard:OrleansCounterInterval"] = "00:00:00.500" });
        });
        Assert.Contains("OrleansCounterInterval", error.Message);
    }

    [Fact]
    public async Task By_default_Orleans_dashboard_times_no_grain_call_and_still_counts_activations()
    {
        const string token = "a-token-long-enough";
        await using var silo = await DashboardSilo.StartAsync(new Dictionary<string, string?>
        {
            ["VNodeMesh:Dashboard:Token"] = token,
            ["VNodeMesh:Dashboard:OrleansCounterInterval"] = "00:00:01",
        });

        // No silo-wide filter at all: Orleans then invokes each grain call directly, without its filter pipeline.
        Assert.Empty(silo.Services.GetServices<IIncomingGrainCallFilter>());

        using var http = new HttpClient { BaseAddress = silo.Address };
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);
        (await http.GetAsync("/dashboard/DashboardCounters")).EnsureSuccessStatusCode(); // a viewer would turn a profiler on
        var pods = Enumerable.Range(0, 5).Select(_ => silo.Grains.GetGrain<IPodGrain>(Guid.NewGuid())).ToList();
        var podActivations = 0;
        for (var attempt = 0; attempt < 50 && podActivations < pods.Count; attempt++)
        {
            foreach (var pod in pods)
            {
                await pod.GetSnapshot();
            }

            await Task.Delay(200);
            using var counters = JsonDocument.Parse(await http.GetStringAsync("/dashboard/DashboardCounters"));
            podActivations = counters.RootElement.GetProperty("simpleGrainStats").EnumerateArray()
                .Where(g => g.GetProperty("grainType").GetString()!.Contains(nameof(PodGrain), StringComparison.Ordinal))
                .Sum(g => g.GetProperty("activationCount").GetInt32());
        }

        Assert.True(podActivations >= pods.Count, $"Orleans' dashboard counted {podActivations} pod grain activations of {pods.Count}");
        using var top = JsonDocument.Parse(await http.GetStringAsync("/dashboard/TopGrainMethods"));
        Assert.Empty(top.RootElement.GetProperty("calls").EnumerateArray());
    }

    [Fact]
    public async Task Orleans_dashboard_asked_to_profile_times_the_node_grain_but_not_pod_grains()
    {
        const string token = "a-token-long-enough";
        await using var silo = await DashboardSilo.StartAsync(new Dictionary<string, string?>
        {
            ["VNodeMesh:Dashboard:Token"] = token,
            ["VNodeMesh:Dashboard:ProfileGrainCalls"] = "true",
            ["VNodeMesh:Nodes:Items:0:Name"] = "vn-profiled",
        });
        var filters = silo.Services.GetServices<IIncomingGrainCallFilter>().ToList();
        Assert.Single(filters.OfType<SelectiveGrainProfilerFilter>());
        Assert.DoesNotContain(filters, f => f.GetType().Name == SelectiveGrainProfilerFilter.OrleansProfilerFilter);

        using var http = new HttpClient { BaseAddress = silo.Address };
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);
        (await http.GetAsync("/dashboard/DashboardCounters")).EnsureSuccessStatusCode(); // a viewer turns the profiler on
        var node = silo.Grains.GetGrain<IVirtualNodeGrain>("vn-profiled");
        var pod = silo.Grains.GetGrain<IPodGrain>(Guid.NewGuid());
        var profiled = new List<string>();
        for (var attempt = 0; attempt < 50 && !profiled.Any(g => g.Contains(nameof(VirtualNodeGrain), StringComparison.Ordinal)); attempt++)
        {
            for (var call = 0; call < 10; call++) // more calls than any other grain method, so both would be in the top five
            {
                await node.GetSummary();
                await pod.GetSnapshot();
            }

            await Task.Delay(200);
            using var methods = JsonDocument.Parse(await http.GetStringAsync("/dashboard/TopGrainMethods"));
            profiled = [.. methods.RootElement.GetProperty("calls").EnumerateArray().Select(m => $"{m.GetProperty("grain").GetString()}.{m.GetProperty("method").GetString()}")];
        }

        Assert.Contains(profiled, g => g.Contains($"{nameof(VirtualNodeGrain)}.{nameof(IVirtualNodeGrain.GetSummary)}", StringComparison.Ordinal));
        Assert.DoesNotContain(profiled, g => g.Contains(nameof(PodGrain), StringComparison.Ordinal));
    }
}

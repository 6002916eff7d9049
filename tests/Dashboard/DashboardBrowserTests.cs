using System.Net;
using System.Text.Json;
using Microsoft.Playwright;
using VNodeMesh.Grains.Lifecycle;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Dashboard;

/// <summary>
/// A silo host with the dashboard behind a token, running pods that run, end, fail and back off, and
/// one Chromium for the tests.
/// </summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    public const string Node = "dash-node";
    public const string Namespace = "shop";
    public readonly string Token = "dashboard-" + Guid.NewGuid().ToString("N");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public DashboardSilo Silo { get; private set; } = null!;
    public IPlaywright Playwright { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public Dictionary<string, Guid> Pods { get; } = [];

    public IVirtualNodeGrain VirtualNode => Silo.Grains.GetGrain<IVirtualNodeGrain>(Node);

    public async Task InitializeAsync()
    {
        var launching = Chromium.LaunchAsync();
        Silo = await DashboardSilo.StartAsync(new Dictionary<string, string?>
        {
            ["VNodeMesh:Dashboard:Token"] = Token,
            ["VNodeMesh:Nodes:Items:0:Name"] = Node,
            ["VNodeMesh:Nodes:KeepAliveInterval"] = "00:00:00.500",
            ["VNodeMesh:VirtualNodes:PollInterval"] = "00:00:00.200",
            ["VNodeMesh:Pods:RetryBaseDelay"] = "00:00:00.300",
            ["VNodeMesh:Pods:RetryMaxDelay"] = "00:00:02",
            ["VNodeMesh:Pods:HistoryLimit"] = "8", // so the backing-off pod's trace soon drops transitions
            ["VNodeMesh:Simulator:Latency"] = "Zero",
            ["VNodeMesh:Simulator:SchedulingSeconds:Median"] = "0.2",
            ["VNodeMesh:Simulator:SchedulingSeconds:P99"] = "0.4",
            ["VNodeMesh:Simulator:PendingSeconds:Median"] = "0.3",
            ["VNodeMesh:Simulator:PendingSeconds:P99"] = "0.6",
        });
        (Playwright, Browser) = await launching;

        var pods = new[]
        {
            TestPods.Create("web-0"), TestPods.Create("web-1"), TestPods.Create("web-2"),
            TestPods.Create("batch", new Dictionary<string, string> { [SimulatorAnnotations.RunSeconds] = "1", [SimulatorAnnotations.ExitCode] = "0" }),
            TestPods.Create("fast-fail", new Dictionary<string, string>
            {
                [PodAnnotations.FailStrategy] = "fail-fast",
                [SimulatorAnnotations.FailCreate] = "OperationDenied.NoStock",
            }),
            TestPods.Create("no-stock", new Dictionary<string, string> { [SimulatorAnnotations.FailCreate] = "OperationDenied.NoStock" }),
            TestPods.Create("host-net", configure: p => p.Spec.HostNetwork = true),
        };
        foreach (var pod in pods)
        {
            pod.Metadata.NamespaceProperty = Namespace;
            Pods[pod.Metadata.Name] = pod.Uid();
        }

        await VNodeMesh.LoadTest.Burst.BurstScenario.SubmitWithRetryAsync(VirtualNode, pods.Select(PodManifest.From).ToList(), CancellationToken.None);
        await WaitForAsync("web-0", p => p.Stage == PodStage.Running);
        await WaitForAsync("web-1", p => p.Stage == PodStage.Running);
        await WaitForAsync("web-2", p => p.Stage == PodStage.Running);
        await WaitForAsync("batch", p => p.Stage == PodStage.Succeeded);
        await WaitForAsync("fast-fail", p => p.Stage == PodStage.Failed);
        await WaitForAsync("host-net", p => p.Stage == PodStage.Failed);
        await WaitForAsync("no-stock", p => p.Attempts >= 3 && p.DroppedTransitions > 0);
    }

    public Task<PodSnapshot> SnapshotAsync(string name) => Silo.Grains.GetGrain<IPodGrain>(Pods[name]).GetSnapshot();

    private async Task WaitForAsync(string name, Func<PodSnapshot, bool> done)
    {
        PodSnapshot? last = null;
        await KubeApi.WaitUntilAsync(async () => done(last = await SnapshotAsync(name)), Timeout,
            () => $"{name}: {last?.Stage} attempts {last?.Attempts} {last?.Reason} {last?.Message}");
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        Playwright?.Dispose();
        if (Silo is not null)
        {
            await Silo.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DashboardBrowserCollection
{
    public const string Name = "Dashboard in Chromium";
}

/// <summary>The dashboard as a person sees it, in a real headless Chromium.</summary>
[Collection(DashboardBrowserCollection.Name)]
public sealed class DashboardBrowserTests(DashboardFixture fixture) : IClassFixture<DashboardFixture>, IAsyncLifetime
{
    private IBrowserContext _context = null!;
    private IPage _page = null!;

    private string Url(string path) => new Uri(fixture.Silo.Address, path).ToString();

    public async Task InitializeAsync()
    {
        _context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        _context.SetDefaultTimeout(30_000);
        _page = await _context.NewPageAsync();
    }

    public Task DisposeAsync() => _context.CloseAsync();

    [Fact]
    public async Task Without_the_token_nothing_is_shown_and_a_wrong_token_is_refused()
    {
        foreach (var path in new[] { "/nodes", $"/pods/{fixture.Pods["web-0"]}", "/dashboard/" })
        {
            await _page.GotoAsync(Url(path));
            Assert.Contains("/login", _page.Url);
            Assert.Equal(1, await _page.Locator("input[name=token]").CountAsync());
            Assert.Equal(0, await _page.Locator(".stage, .timeline").CountAsync());
        }

        var api = await _context.APIRequest.GetAsync(Url("/api/nodes"));
        Assert.Equal((int)HttpStatusCode.Unauthorized, api.Status);
        var orleans = await _context.APIRequest.GetAsync(Url("/dashboard/DashboardCounters"));
        Assert.Equal((int)HttpStatusCode.Unauthorized, orleans.Status);
        var health = await _context.APIRequest.GetAsync(Url("/healthz/ready"));
        Assert.Equal((int)HttpStatusCode.OK, health.Status);

        await _page.FillAsync("input[name=token]", "not-the-token-at-all");
        var refused = await _page.RunAndWaitForResponseAsync(() => _page.ClickAsync("button[type=submit]"), r => r.Url.EndsWith("/login"));
        Assert.Equal((int)HttpStatusCode.Unauthorized, refused.Status);
        Assert.Contains("not accepted", await _page.Locator(".error.message").InnerTextAsync());
        await Chromium.ScreenshotAsync(_page, "login-refused", minimumBytes: 8_000);
    }

    [Fact]
    public async Task A_forged_session_is_sent_back_to_sign_in_and_the_page_shows_no_text_from_the_link()
    {
        await _context.AddCookiesAsync([new Microsoft.Playwright.Cookie { Name = "VNodeMesh.Dashboard", Value = "99999999999.forged", Url = Url("/") }]);
        await _page.GotoAsync(Url("/nodes"));
        Assert.Contains("/login", _page.Url);
        Assert.Equal("Your session has ended: sign in again.", await _page.Locator(".error.message").InnerTextAsync());

        await _page.GotoAsync(Url("/login?reason=Send+your+token+to+evil.example"));
        Assert.Equal(0, await _page.Locator(".error.message").CountAsync());
        Assert.DoesNotContain("evil.example", await _page.ContentAsync());
    }

    [Fact]
    public async Task Nodes_page_shows_the_stage_counts_the_node_grain_reports()
    {
        await SignInAsync();

        // The backing-off pod moves between stages: compare with a summary that held still while the page was rendered.
        VirtualNodeSummary? shown = null;
        for (var attempt = 0; attempt < 10 && shown is null; attempt++)
        {
            var before = await fixture.VirtualNode.GetSummary();
            await _page.GotoAsync(Url("/nodes"));
            var after = await fixture.VirtualNode.GetSummary();
            shown = SameCounts(before, after) ? after : null;
        }

        Assert.NotNull(shown);
        var node = _page.Locator($"section.node[data-node='{DashboardFixture.Node}']");
        Assert.Equal(1, await node.CountAsync());
        var tiles = node.Locator(".stage");
        Assert.Equal(13, await tiles.CountAsync()); // every stage a pod can be counted in
        foreach (var stage in Enum.GetValues<PodStage>().Where(s => s != PodStage.Deleted))
        {
            var count = await node.Locator($".stage[data-stage='{stage}'] .count").InnerTextAsync();
            Assert.True(shown.PodsByStage.GetValueOrDefault(stage).ToString() == count, $"{stage}: page {count}, grain {shown.PodsByStage.GetValueOrDefault(stage)}");
        }

        Assert.Equal(3, shown.PodsByStage[PodStage.Running]);
        Assert.Equal(1, shown.PodsByStage[PodStage.Succeeded]);
        Assert.Equal(2, shown.PodsByStage[PodStage.Failed]);
        Assert.Equal("7", await node.Locator("[data-field=pods]").InnerTextAsync());
        Assert.Equal("50,000", await node.Locator("[data-field=capacity]").InnerTextAsync());
        Assert.Contains("tokens available", await node.Locator("[data-field=quota]").InnerTextAsync());
        Assert.True(int.Parse(await node.Locator("[data-field=backoffs]").InnerTextAsync()) >= 2);
        Assert.True(int.Parse(await node.Locator("[data-field=retries]").InnerTextAsync()) >= 2);
        Assert.True(int.Parse((await node.Locator("[data-field=spent]").InnerTextAsync()).Replace(",", "")) >= 6);
        Assert.Contains("ago", await node.Locator("[data-field=last-poll]").InnerTextAsync());
        await Chromium.ScreenshotAsync(_page, "nodes");
    }

    [Fact]
    public async Task A_pod_found_by_namespace_and_name_shows_every_transition_with_its_error_code()
    {
        await SignInAsync();
        await _page.GotoAsync(Url("/pods"));
        await _page.FillAsync("input[name=namespace]", DashboardFixture.Namespace);
        await _page.FillAsync("input[name=name]", "fast-fail");
        await _page.ClickAsync("form.search button[type=submit]");
        await _page.WaitForURLAsync($"**/pods/{fixture.Pods["fast-fail"]}");

        var pod = await fixture.SnapshotAsync("fast-fail");
        Assert.Equal("Failed", await _page.Locator("[data-field=stage]").InnerTextAsync());
        Assert.Equal(PodStateMachine.ReasonProviderFailed, await _page.Locator("[data-field=reason]").InnerTextAsync());
        Assert.Equal(pod.Attempts.ToString(), await _page.Locator("[data-field=attempts]").InnerTextAsync());
        await AssertTimelineAsync(pod.History);
        var failed = _page.Locator(".timeline li.step[data-event=CreateFailed]");
        Assert.Equal(1, await failed.CountAsync());
        Assert.Equal("OperationDenied.NoStock", await failed.Locator(".error-code").InnerTextAsync());
        Assert.Equal("provider create: failed", await failed.Locator(".call").InnerTextAsync());
        Assert.Equal("Failed", await failed.GetAttributeAsync("data-to"));
        Assert.Equal(pod.History.Count, await _page.Locator("svg.stage-bar rect").CountAsync());
        await Chromium.ScreenshotAsync(_page, "pod-fast-fail");
    }

    [Fact]
    public async Task A_pod_found_by_uid_shows_its_back_offs_and_retries()
    {
        await SignInAsync();
        await _page.GotoAsync(Url("/pods"));
        await _page.FillAsync("input[name=uid]", fixture.Pods["no-stock"].ToString());
        await _page.ClickAsync("form.search button[type=submit]");
        await _page.WaitForURLAsync($"**/pods/{fixture.Pods["no-stock"]}");

        var steps = _page.Locator(".timeline li.step");
        var failures = _page.Locator(".timeline li.step[data-event=CreateFailed]");
        Assert.True(await failures.CountAsync() >= 3, "at least three failed creates");
        var attempts = new List<int>();
        foreach (var failure in await failures.AllAsync())
        {
            Assert.Equal("OperationDenied.NoStock", await failure.GetAttributeAsync("data-error"));
            Assert.Equal("BackingOff", await failure.GetAttributeAsync("data-to"));
            Assert.Equal("provider create: failed", await failure.Locator(".call").InnerTextAsync());
            attempts.Add(int.Parse((await failure.GetAttributeAsync("data-attempt"))!));
        }

        Assert.Equal(attempts.Order(), attempts);
        Assert.Equal(attempts.Distinct().Count(), attempts.Count); // one failed create per attempt
        Assert.Equal("Admitted", await steps.First.GetAttributeAsync("data-event"));
        var gap = _page.Locator(".timeline li.gap");
        Assert.Equal(1, await gap.CountAsync()); // right after the first step, which the trace always keeps
        Assert.True(int.Parse((await gap.GetAttributeAsync("data-dropped"))!) > 0);
        Assert.Equal(1, await _page.Locator(".timeline li.step + li.gap").CountAsync());
        Assert.Equal(1, await _page.Locator("svg.stage-bar rect.s-unknown").CountAsync());
        Assert.True(await _page.Locator(".timeline li.step[data-from=BackingOff][data-to=Creating]").CountAsync() >= 2, "retries after the back-off");
        Assert.Contains("+", await steps.Nth(1).Locator(".delta").InnerTextAsync());
        Assert.Equal("none", await _page.Locator("[data-field=instance]").InnerTextAsync());
        await Chromium.ScreenshotAsync(_page, "pod-no-stock");
    }

    [Fact]
    public async Task A_running_pod_shows_its_create_status_and_startup_latency_in_the_page_and_the_json()
    {
        await SignInAsync();
        var uid = fixture.Pods["web-0"];
        await _page.GotoAsync(Url($"/pods?namespace={DashboardFixture.Namespace}&name=web-0"));
        await _page.WaitForURLAsync($"**/pods/{uid}");

        var pod = await fixture.SnapshotAsync("web-0");
        await AssertTimelineAsync(pod.History);
        Assert.Equal(new[] { "Admitted", "CreateSucceeded" }, pod.History.Take(2).Select(t => t.Event));
        Assert.Contains(pod.History, t => t is { Event: "InstanceObserved", To: PodStage.Running });
        Assert.Equal("provider create: ok", await _page.Locator(".timeline li.step[data-event=CreateSucceeded] .call").InnerTextAsync());
        Assert.Equal(pod.InstanceId, await _page.Locator("[data-field=instance]").InnerTextAsync());
        Assert.Matches(@"^\d+(\.\d)? (ms|s)$", await _page.Locator("[data-field=startup]").InnerTextAsync());
        Assert.StartsWith("create 1 · status seen ", await _page.Locator("[data-field=calls]").InnerTextAsync());
        Assert.Contains("so far", await _page.Locator(".legend li.s-running").InnerTextAsync());
        await Chromium.ScreenshotAsync(_page, "pod-running");

        var response = await _context.APIRequest.GetAsync(Url($"/api/pods?namespace={DashboardFixture.Namespace}&name=web-0"));
        Assert.Equal(200, response.Status);
        using var json = JsonDocument.Parse(await response.TextAsync());
        var root = json.RootElement;
        Assert.Equal(uid.ToString(), root.GetProperty("uid").GetString());
        Assert.Equal("Running", root.GetProperty("stage").GetString());
        Assert.True(root.GetProperty("startupLatencyMs").GetDouble() > 0);
        Assert.Equal(1, root.GetProperty("providerCalls").GetProperty("creates").GetInt32());
        var transitions = root.GetProperty("transitions").EnumerateArray().ToList();
        Assert.Equal(pod.History.Count, transitions.Count);
        Assert.Equal("create", transitions[1].GetProperty("providerCall").GetString());
        Assert.True(transitions[^1].GetProperty("sinceStartMs").GetDouble() >= transitions[1].GetProperty("sinceStartMs").GetDouble());
    }

    [Fact]
    public async Task Bad_input_gets_a_clear_message_not_an_error_page()
    {
        await SignInAsync();

        var malformed = await _page.GotoAsync(Url("/pods/not-a-uid"));
        Assert.Equal(400, malformed!.Status);
        Assert.Contains("is not a pod UID", await _page.Locator(".error.message").InnerTextAsync());

        var unknown = Guid.NewGuid();
        var missing = await _page.GotoAsync(Url($"/pods?uid={unknown}"));
        Assert.Equal(404, missing!.Status);
        Assert.Contains($"No pod with UID {unknown}", await _page.Locator(".error.message").InnerTextAsync());

        var noName = await _page.GotoAsync(Url($"/pods?namespace={DashboardFixture.Namespace}&name=nobody"));
        Assert.Equal(404, noName!.Status);
        Assert.Contains("No pod shop/nobody", await _page.Locator(".error.message").InnerTextAsync());

        var half = await _page.GotoAsync(Url("/pods?namespace=shop"));
        Assert.Equal(400, half!.Status);
        Assert.Contains("both a namespace and a name", await _page.Locator(".error.message").InnerTextAsync());
        await Chromium.ScreenshotAsync(_page, "pod-bad-input", minimumBytes: 8_000);

        var api = await _context.APIRequest.GetAsync(Url("/api/pods/12345"));
        Assert.Equal(400, api.Status);
        Assert.Contains("is not a pod UID", await api.TextAsync());
    }

    [Fact]
    public async Task Orleans_dashboard_loads_at_slash_dashboard_behind_the_same_sign_in()
    {
        await SignInAsync();
        await _page.GotoAsync(Url("/dashboard"));
        Assert.EndsWith("/dashboard/", _page.Url);
        Assert.Equal("Orleans Dashboard", await _page.TitleAsync());
        await _page.Locator("#menu a").First.WaitForAsync();
        await _page.GetByText("Grains", new() { Exact = true }).First.WaitForAsync();
        Assert.True(await _page.Locator("#menu a").CountAsync() >= 3);
        await Chromium.ScreenshotAsync(_page, "orleans-dashboard");
    }

    [Fact]
    public async Task Signing_out_ends_the_session()
    {
        await SignInAsync();
        await _page.ClickAsync("form.logout button");
        await _page.WaitForURLAsync("**/login");
        await _page.GotoAsync(Url("/nodes"));
        Assert.Contains("/login", _page.Url);
    }

    private async Task SignInAsync()
    {
        await _page.GotoAsync(Url("/login?returnUrl=%2Fnodes"));
        await _page.FillAsync("input[name=token]", fixture.Token);
        await _page.ClickAsync("button[type=submit]");
        await _page.WaitForURLAsync("**/nodes");
        var cookie = Assert.Single(await _context.CookiesAsync(), c => c.Name == "VNodeMesh.Dashboard");
        Assert.True(cookie.HttpOnly);
        Assert.DoesNotContain(fixture.Token, cookie.Value);
    }

    /// <summary>The timeline shows exactly the grain's transitions, in order.</summary>
    private async Task AssertTimelineAsync(IReadOnlyList<PodTransition> history)
    {
        var steps = await _page.Locator(".timeline li.step").AllAsync();
        Assert.Equal(history.Count, steps.Count);
        for (var i = 0; i < steps.Count; i++)
        {
            var expected = history[i];
            var step = steps[i];
            Assert.Equal(expected.Event, await step.GetAttributeAsync("data-event"));
            Assert.Equal(expected.From.ToString(), await step.GetAttributeAsync("data-from"));
            Assert.Equal(expected.To.ToString(), await step.GetAttributeAsync("data-to"));
            Assert.Equal(expected.Attempt.ToString(), await step.GetAttributeAsync("data-attempt"));
            Assert.Equal(expected.ErrorCode, await step.GetAttributeAsync("data-error"));
            Assert.Equal($"{expected.From} → {expected.To}", await step.Locator(".transition").InnerTextAsync());
            Assert.Equal(expected.At.UtcDateTime.ToString("HH:mm:ss.fff"), await step.Locator("time").InnerTextAsync());
        }
    }

    private static bool SameCounts(VirtualNodeSummary a, VirtualNodeSummary b) =>
        a.PodsByStage.Count == b.PodsByStage.Count && a.PodsByStage.All(p => b.PodsByStage.GetValueOrDefault(p.Key) == p.Value);
}

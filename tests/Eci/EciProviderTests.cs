using System.Net;
using System.Net.Sockets;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VNodeMesh.Emulator;
using VNodeMesh.Silo.Hosting;
using VNodeMesh.Silo.Providers;
using VNodeMesh.Silo.Providers.Eci;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Eci;

/// <summary>The ECI provider over real HTTP against the emulator: wire format, signatures, errors, retries, circuit, pacing.</summary>
public sealed class EciProviderTests
{
    [Theory]
    [InlineData(400, "Throttling.User", ProviderErrorKind.Throttled)]
    [InlineData(400, "Throttling.Api", ProviderErrorKind.Throttled)]
    [InlineData(503, "Degrade.Api", ProviderErrorKind.Throttled)]
    [InlineData(429, "", ProviderErrorKind.Throttled)]
    [InlineData(400, "OperationDenied.NoStock", ProviderErrorKind.NoStock)]
    [InlineData(400, "RecommendEmpty.InstanceTypeNoStock", ProviderErrorKind.NoStock)]
    [InlineData(400, "ValueExceeded.Cpu", ProviderErrorKind.QuotaExceeded)]
    [InlineData(400, "InvalidParameter.Image", ProviderErrorKind.InvalidSpec)]
    [InlineData(400, "MissingParameter.VSwitchId", ProviderErrorKind.InvalidSpec)]
    [InlineData(400, "FeatureBasedConstraintConflict", ProviderErrorKind.InvalidSpec)]
    [InlineData(404, "InvalidContainerGroupId.NotFound", ProviderErrorKind.NotFound)]
    [InlineData(500, "InternalError", ProviderErrorKind.Transient)]
    [InlineData(503, "ServiceUnavailable", ProviderErrorKind.Transient)]
    [InlineData(403, "Account.Arrearage", ProviderErrorKind.Permanent)]
    [InlineData(403, "Forbidden.RAM", ProviderErrorKind.Permanent)]
    [InlineData(400, "SignatureDoesNotMatch", ProviderErrorKind.Permanent)]
    public void Error_codes_map_to_the_contracts_kinds(int status, string code, ProviderErrorKind kind)
    {
        var error = EciErrors.ToException((HttpStatusCode)status, code, "message", "req-1", TimeSpan.FromMilliseconds(1500)).Error;

        Assert.Equal(kind, error.Kind);
        Assert.Equal("req-1", error.RequestId);
        Assert.Contains("req-1", error.Message);
        if (kind == ProviderErrorKind.Throttled)
        {
            Assert.Equal(TimeSpan.FromMilliseconds(1500), error.RetryAfter);
        }
    }

    [Fact]
    public async Task A_pod_is_created_described_listed_and_deleted_through_the_wire_format()
    {
        await using var emulator = await StartEmulatorAsync();
        var eci = Provider(emulator);
        var pod = TestPods.Create("wire");

        var created = await eci.CreateContainerGroupAsync(Request(pod));
        var again = await eci.CreateContainerGroupAsync(Request(pod));
        var status = Assert.Single(await eci.DescribeContainerGroupStatusAsync([created.ContainerGroupId]));
        var changed = await eci.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(60, Tags: new Dictionary<string, string> { [ContainerGroupTags.Node] = "node-a" }));
        var listed = await eci.DescribeContainerGroupsAsync(new DescribeContainerGroupsQuery(Tags: new Dictionary<string, string> { [ContainerGroupTags.PodUid] = pod.Metadata.Uid }));
        var events = await eci.DescribeContainerGroupEventsAsync(created.ContainerGroupId);

        Assert.Equal(created.ContainerGroupId, again.ContainerGroupId);
        Assert.False(string.IsNullOrEmpty(created.RequestId));
        Assert.Equal(ContainerGroupStatus.Running, status.Status);
        Assert.Equal(pod.Metadata.Uid, status.PodUid);
        Assert.Equal("app", Assert.Single(status.Containers).Name);
        Assert.Equal(ContainerStateKind.Running, status.Containers[0].State);
        Assert.NotNull(status.IntranetIp);
        Assert.Equal(created.ContainerGroupId, Assert.Single(changed.Items).ContainerGroupId);
        var group = Assert.Single(listed.Items);
        Assert.Equal("node-a", group.Tags[ContainerGroupTags.Node]);
        Assert.NotNull(group.ZoneId);
        Assert.NotEmpty(events);

        await eci.DeleteContainerGroupAsync(created.ContainerGroupId);
        await WaitUntilAsync(async () => (await eci.DescribeContainerGroupStatusAsync([created.ContainerGroupId])).Count == 0);
        var gone = await Assert.ThrowsAsync<InstanceNotFoundException>(() => eci.DeleteContainerGroupAsync(created.ContainerGroupId));
        Assert.Equal(1, emulator.Cloud.InstancesCreatedForPod(pod.Metadata.Uid));
        Assert.Contains(created.ContainerGroupId, gone.Message);
    }

    [Fact]
    public async Task Changed_status_is_paged_with_next_tokens()
    {
        await using var emulator = await StartEmulatorAsync();
        var eci = Provider(emulator);
        var ids = new HashSet<string>();
        for (var i = 0; i < 45; i++)
        {
            ids.Add((await eci.CreateContainerGroupAsync(Request(TestPods.Create($"page-{i}")))).ContainerGroupId);
        }

        var seen = new List<string>();
        string? next = null;
        var pages = 0;
        do
        {
            var page = await eci.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(600, Limit: 20, NextToken: next));
            seen.AddRange(page.Items.Select(g => g.ContainerGroupId));
            next = page.NextToken;
            pages++;
        }
        while (next is not null);

        Assert.Equal(3, pages);
        Assert.Equal(ids.Order(), seen.Order());
    }

    [Fact]
    public async Task Bad_credentials_are_refused_as_permanent_with_the_reason()
    {
        await using var emulator = await StartEmulatorAsync();
        var wrongSecret = Provider(emulator, o => o.AccessKeySecret = "not-the-secret");
        var unknownKey = Provider(emulator, o => o.AccessKeyId = "someone-else");

        var mismatch = await Assert.ThrowsAsync<PermanentProviderException>(() => wrongSecret.CreateContainerGroupAsync(Request(TestPods.Create("bad-secret"))));
        var unknown = await Assert.ThrowsAsync<PermanentProviderException>(() => unknownKey.DescribeContainerGroupStatusAsync(["eci-1"]));

        Assert.Equal("SignatureDoesNotMatch", mismatch.Error.Code);
        Assert.Contains("signature mismatch", mismatch.Message);
        Assert.Equal("InvalidAccessKeyId.NotFound", unknown.Error.Code);
        Assert.Equal(0, emulator.Cloud.Statistics.CreateCalls);
        Assert.Equal(2, emulator.Rejected);
    }

    [Fact]
    public async Task An_invalid_spec_names_the_problem_and_is_not_retried()
    {
        await using var emulator = await StartEmulatorAsync();
        var eci = Provider(emulator);
        var pod = TestPods.Create("bad-image", configure: p => p.Spec.Containers[0].Image = "invalid/image:1");

        var error = await Assert.ThrowsAsync<InvalidSpecException>(() => eci.CreateContainerGroupAsync(Request(pod)));

        Assert.Equal("InvalidParameter.Image", error.Error.Code);
        Assert.Contains("invalid/image:1", error.Message);
        Assert.Equal(1, emulator.Calls["CreateContainerGroup"]);
    }

    [Fact]
    public async Task A_throttled_create_goes_back_to_its_pacer_with_the_retry_after()
    {
        var cloud = SimulatorOptions.ZeroLatency();
        cloud.QuotaBurst = 1;
        cloud.QuotaPerSecond = 5;
        await using var emulator = await StartEmulatorAsync(cloud);
        var eci = Provider(emulator);

        await eci.CreateContainerGroupAsync(Request(TestPods.Create("first")));
        var throttled = await Assert.ThrowsAsync<ThrottledException>(() => eci.CreateContainerGroupAsync(Request(TestPods.Create("second"))));

        Assert.Equal("Throttling.User", throttled.Error.Code);
        Assert.InRange(throttled.Error.RetryAfter!.Value, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(201));
        Assert.Equal(2, emulator.Calls["CreateContainerGroup"]);
    }

    [Fact]
    public async Task Throttled_reads_wait_the_retry_after_the_API_asks_for_then_succeed()
    {
        var cloud = SimulatorOptions.ZeroLatency();
        cloud.QuotaUnlimited = true;
        await using var emulator = await StartEmulatorAsync(cloud);
        var eci = Provider(emulator);
        var id = (await eci.CreateContainerGroupAsync(Request(TestPods.Create("read")))).ContainerGroupId;
        emulator.ThrottleNext(2, TimeSpan.FromMilliseconds(150));

        var started = DateTime.UtcNow;
        var status = await eci.DescribeContainerGroupStatusAsync([id]);

        Assert.Single(status);
        Assert.Equal(3, emulator.Calls["DescribeContainerGroupStatus"]);
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(280), "the retries did not wait the retry-after");
    }

    [Fact]
    public async Task A_lost_answer_is_retried_with_the_same_client_token_and_finds_the_instance()
    {
        // Each request's answer is lost independently: at 0.3, a pod loses all 11 of its attempts about once in 560,000.
        await using var emulator = await StartEmulatorAsync(emulator: new EciEmulatorOptions { Port = 0, LostAnswerRate = 0.3, Seed = 7 });
        var eci = Provider(emulator, o =>
        {
            o.MaxRetries = 10;
            o.BreakMinimumCalls = 100_000; // a third of the answers fail here: that is the test, not a broken endpoint
        });
        var pods = Enumerable.Range(0, 40).Select(i => TestPods.Create($"lost-{i}")).ToList();

        var results = await Task.WhenAll(pods.Select(p => eci.CreateContainerGroupAsync(Request(p))));

        Assert.True(emulator.LostAnswers > 5, $"only {emulator.LostAnswers} answers were lost");
        Assert.Equal(40, results.Select(r => r.ContainerGroupId).Distinct().Count());
        Assert.Equal(40, emulator.Cloud.Statistics.InstancesCreated);
        Assert.Equal(0, emulator.Cloud.Statistics.DuplicateInstances);
        Assert.True(emulator.Cloud.Statistics.CreateReplays >= emulator.LostAnswers);
    }

    [Fact]
    public async Task A_failing_endpoint_opens_the_circuit_and_calls_fail_fast()
    {
        await using var emulator = await StartEmulatorAsync(emulator: new EciEmulatorOptions { Port = 0, UnavailableRate = 1 });
        var eci = Provider(emulator, o =>
        {
            o.MaxRetries = 0;
            o.BreakMinimumCalls = 4;
            o.BreakDuration = TimeSpan.FromSeconds(30);
        });

        for (var i = 0; i < 4; i++)
        {
            var unavailable = await Assert.ThrowsAsync<TransientProviderException>(() => eci.DescribeContainerGroupStatusAsync(["eci-1"]));
            Assert.Equal("ServiceUnavailable", unavailable.Error.Code);
        }

        var open = await Assert.ThrowsAsync<TransientProviderException>(() => eci.DescribeContainerGroupStatusAsync(["eci-1"]));

        Assert.Equal("CircuitOpen", open.Error.Code);
        Assert.Contains(emulator.Endpoint.Host, open.Message);
        Assert.Equal(4, emulator.Requests);
    }

    [Fact]
    public async Task A_silent_endpoint_times_out_as_a_transient_error()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start(); // accepts connections, never answers
        var endpoint = new Uri($"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}/");
        var eci = Provider(new EciOptions { Region = "cn-hangzhou", Endpoint = endpoint, AccessKeyId = "k", AccessKeySecret = "s" }, o =>
        {
            o.AttemptTimeout = TimeSpan.FromMilliseconds(200);
            o.CallTimeout = TimeSpan.FromSeconds(1);
            o.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
        });

        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<TransientProviderException>(() => eci.DescribeContainerGroupStatusAsync(["eci-1"]));

        Assert.Equal("Timeout", error.Error.Code);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
    }

    internal static Task<EciEmulator> StartEmulatorAsync(SimulatorOptions? cloud = null, EciEmulatorOptions? emulator = null)
    {
        if (cloud is null)
        {
            cloud = SimulatorOptions.ZeroLatency();
            cloud.QuotaUnlimited = true;
        }

        emulator ??= new EciEmulatorOptions { Port = 0 };
        cloud.Region = emulator.Region;
        return EciEmulator.StartAsync(emulator, new SimulatedCloud(cloud));
    }

    internal static EciProvider Provider(EciEmulator emulator, Action<EciOptions>? configure = null) => Provider(emulator.ClientOptions(), configure);

    private static EciProvider Provider(EciOptions options, Action<EciOptions>? configure)
    {
        options.RetryBaseDelay = TimeSpan.FromMilliseconds(20);
        configure?.Invoke(options);
        var api = new EciApiClient(new HttpClient(), Options.Create(options), TimeProvider.System, NullLogger<EciApiClient>.Instance);
        return new EciProvider(api, Options.Create(options), Options.Create(new NodesOptions()), new NoPodReferences());
    }

    internal static CreateContainerGroupRequest Request(V1Pod pod) => new(
        $"vnodemesh-{pod.Metadata.Uid}",
        $"tests-{pod.Metadata.Name}",
        pod,
        null,
        new Dictionary<string, string>
        {
            [ContainerGroupTags.Cluster] = "tests",
            [ContainerGroupTags.Node] = "node-a",
            [ContainerGroupTags.Namespace] = pod.Metadata.NamespaceProperty,
            [ContainerGroupTags.PodName] = pod.Metadata.Name,
            [ContainerGroupTags.PodUid] = pod.Metadata.Uid,
        });

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 10 s");
            await Task.Delay(50);
        }
    }
}

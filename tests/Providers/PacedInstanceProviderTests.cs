using VNodeMesh.Silo.Providers;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Providers;

/// <summary>What a cancelled create tells its caller: whether it could have reached the cloud.</summary>
public sealed class PacedInstanceProviderTests
{
    [Fact]
    public async Task A_create_cancelled_while_it_waits_for_the_budget_says_it_was_never_sent()
    {
        var cloud = new SimulatedCloud(SimulatorOptions.ZeroLatency(), TimeProvider.System);
        // One token, then one every 100 s: the second create waits.
        using var paced = new PacedInstanceProvider(cloud, new ProviderQuotaOptions { Burst = 1, PerSecond = 0.01, ArrivalSlack = TimeSpan.Zero, Headroom = 0 });
        await paced.CreateContainerGroupAsync(Request("first"));
        using var stopping = new CancellationTokenSource();

        var waiting = paced.CreateContainerGroupAsync(Request("second"), stopping.Token);
        await stopping.CancelAsync();

        var cancelled = await Assert.ThrowsAsync<RequestNotSentException>(() => waiting);
        Assert.Equal(stopping.Token, cancelled.CancellationToken);
        Assert.Contains("create", cancelled.Message, StringComparison.Ordinal);
        Assert.Equal(1, cloud.Statistics.InstancesCreated);
        Assert.Equal(0, paced.GetUsage().CreatesInFlight);
    }

    [Fact]
    public async Task A_create_cancelled_on_its_way_to_the_cloud_does_not_claim_it_was_never_sent()
    {
        var cloud = new HangingCreates(new SimulatedCloud(SimulatorOptions.ZeroLatency(), TimeProvider.System));
        using var paced = new PacedInstanceProvider(cloud, new ProviderQuotaOptions { Burst = 10, PerSecond = 10 });
        using var stopping = new CancellationTokenSource();

        var sending = paced.CreateContainerGroupAsync(Request("on-its-way"), stopping.Token);
        await cloud.Sent.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await stopping.CancelAsync();

        var cancelled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sending);
        Assert.IsNotType<RequestNotSentException>(cancelled);
    }

    private static CreateContainerGroupRequest Request(string name)
    {
        var pod = TestPods.Create(name);
        return new CreateContainerGroupRequest(pod.Metadata.Uid, name, pod, null, new Dictionary<string, string> { [ContainerGroupTags.PodUid] = pod.Metadata.Uid });
    }

    /// <summary>A cloud whose creates are received and never answered, as a request lost on the wire.</summary>
    private sealed class HangingCreates(IInstanceProvider inner) : DelegatingInstanceProvider(inner)
    {
        public TaskCompletionSource Sent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async Task<CreateContainerGroupResult> CreateContainerGroupAsync(CreateContainerGroupRequest request, CancellationToken cancellationToken = default)
        {
            Sent.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }
}

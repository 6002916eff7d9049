using System.Diagnostics.Metrics;
using System.Threading.RateLimiting;
using VNodeMesh.Grains;

namespace VNodeMesh.Silo.Providers;

/// <summary>
/// Wraps a provider: spends the create/delete budget evenly through a token bucket shaped like the
/// cloud's own (so calls wait here instead of being throttled there), and counts every call by outcome.
/// </summary>
public sealed class PacedInstanceProvider : IInstanceProvider, IDisposable
{
    private static readonly Counter<long> Calls = VNodeMeshTelemetry.Meter.CreateCounter<long>(
        "vnodemesh.provider.calls", description: "Provider calls, by operation and outcome (ok or an error kind).");

    private readonly IInstanceProvider _inner;
    private readonly RateLimiter? _budget;

    public PacedInstanceProvider(IInstanceProvider inner, ProviderQuotaOptions quota)
    {
        _inner = inner;
        _budget = quota.Unlimited ? null : CreateBudget(quota);
    }

    public string Name => _inner.Name;

    public Task<CreateContainerGroupResult> CreateContainerGroupAsync(CreateContainerGroupRequest request, CancellationToken cancellationToken = default) =>
        Paced("create", ct => _inner.CreateContainerGroupAsync(request, ct), cancellationToken);

    public Task DeleteContainerGroupAsync(string containerGroupId, CancellationToken cancellationToken = default) =>
        Paced("delete", async ct => { await _inner.DeleteContainerGroupAsync(containerGroupId, ct); return true; }, cancellationToken);

    public Task<IReadOnlyList<ContainerGroup>> DescribeContainerGroupStatusAsync(IReadOnlyList<string> containerGroupIds, CancellationToken cancellationToken = default) =>
        Counted("describeStatus", () => _inner.DescribeContainerGroupStatusAsync(containerGroupIds, cancellationToken));

    public Task<ContainerGroupPage> DescribeChangedContainerGroupStatusAsync(ChangedSinceQuery query, CancellationToken cancellationToken = default) =>
        Counted("describeStatus", () => _inner.DescribeChangedContainerGroupStatusAsync(query, cancellationToken));

    public Task<ContainerGroupPage> DescribeContainerGroupsAsync(DescribeContainerGroupsQuery query, CancellationToken cancellationToken = default) =>
        Counted("describeGroups", () => _inner.DescribeContainerGroupsAsync(query, cancellationToken));

    public Task<IReadOnlyList<ContainerGroupEvent>> DescribeContainerGroupEventsAsync(string containerGroupId, CancellationToken cancellationToken = default) =>
        Counted("describeEvents", () => _inner.DescribeContainerGroupEventsAsync(containerGroupId, cancellationToken));

    public Task<string> DescribeContainerLogAsync(string containerGroupId, string containerName, int? tailLines = null, CancellationToken cancellationToken = default) =>
        Counted("describeLog", () => _inner.DescribeContainerLogAsync(containerGroupId, containerName, tailLines, cancellationToken));

    public void Dispose() => _budget?.Dispose();

    private async Task<T> Paced<T>(string operation, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        if (_budget is not null)
        {
            using var lease = await _budget.AcquireAsync(1, cancellationToken);
            if (!lease.IsAcquired)
            {
                throw new ThrottledException("Throttling.Client", "the create/delete budget queue is full", TimeSpan.FromSeconds(1));
            }
        }

        return await Counted(operation, () => call(cancellationToken));
    }

    private static async Task<T> Counted<T>(string operation, Func<Task<T>> call)
    {
        try
        {
            var result = await call();
            Calls.Add(1, new("operation", operation), new("outcome", "ok"));
            return result;
        }
        catch (ProviderException ex)
        {
            Calls.Add(1, new("operation", operation), new("outcome", ex.Error.Kind.ToString()));
            throw;
        }
    }

    /// <summary>A token bucket like the cloud's: <c>Burst</c> tokens, refilled at <c>PerSecond</c>, waiters served in order.</summary>
    private static TokenBucketRateLimiter CreateBudget(ProviderQuotaOptions quota)
    {
        var period = TimeSpan.FromSeconds(Math.Max(0.01, 1 / quota.PerSecond));
        return new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = quota.Burst,
            ReplenishmentPeriod = period,
            TokensPerPeriod = Math.Max(1, (int)Math.Round(quota.PerSecond * period.TotalSeconds)),
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        });
    }
}

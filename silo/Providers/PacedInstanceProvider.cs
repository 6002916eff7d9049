using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.RateLimiting;
using VNodeMesh.Grains;

namespace VNodeMesh.Silo.Providers;

/// <summary>
/// Wraps a provider: spends the create/delete budget evenly through a token bucket shaped like the
/// cloud's own (so calls wait here instead of being throttled there), and counts every call by outcome.
/// </summary>
public sealed class PacedInstanceProvider : IInstanceProvider, IProviderQuota, IDisposable
{
    public const string CallsInstrument = "vnodemesh.provider.calls";
    public const string ThrottlesInstrument = "vnodemesh.provider.throttles";
    public const string PacingDelayInstrument = "vnodemesh.provider.pacing.delay";

    private static readonly Counter<long> Calls = VNodeMeshTelemetry.Meter.CreateCounter<long>(
        CallsInstrument, "{call}", "Provider calls, by operation, outcome (ok or an error kind) and error code.");

    private static readonly Counter<long> Throttles = VNodeMeshTelemetry.Meter.CreateCounter<long>(
        ThrottlesInstrument, "{call}", "Provider calls refused for throttling (by the cloud, or by the budget's full queue), by operation and error code.");

    private static readonly Histogram<double> PacingDelay = VNodeMeshTelemetry.Meter.CreateHistogram(
        PacingDelayInstrument, "s", "Time creates and deletes waited for the account's budget before being sent, by operation.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600] });

    // Outcome tags made once: a burst counts tens of thousands of calls.
    private static readonly string[] ErrorKindNames = Enum.GetValues<ProviderErrorKind>().Select(k => k.ToString()).ToArray();

    private readonly IInstanceProvider _inner;
    private readonly RateLimiter? _budget;
    private readonly RateLimiter _describeBudget;
    private readonly BudgetShape _shape;
    // Creates and deletes waiting for a token or on their way to the cloud: what the dashboard shows.
    private int _createsInFlight;
    private int _deletesInFlight;
    private long _spent;

    public PacedInstanceProvider(IInstanceProvider inner, ProviderQuotaOptions quota)
        : this(inner, quota, LocalProviderBudget.Instance)
    {
    }

    /// <summary>Creates and deletes spend <paramref name="budget"/>'s limiter (the process's own, or the cluster's).</summary>
    public PacedInstanceProvider(IInstanceProvider inner, ProviderQuotaOptions quota, IProviderBudget budget)
    {
        _inner = inner;
        _shape = BudgetShape.Of(quota);
        _budget = quota.Unlimited ? null : budget.CreateLimiter(quota);
        _describeBudget = new SteadyTokenBucket(Math.Max(1, quota.DescribePerMinute / 60), quota.DescribePerMinute / 60.0);
    }

    public string Name => _inner.Name;

    public async Task<CreateContainerGroupResult> CreateContainerGroupAsync(CreateContainerGroupRequest request, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _createsInFlight);
        try
        {
            return await Paced(_budget, "create", ct => _inner.CreateContainerGroupAsync(request, ct), cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _createsInFlight);
        }
    }

    public async Task DeleteContainerGroupAsync(string containerGroupId, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _deletesInFlight);
        try
        {
            await Paced(_budget, "delete", async ct => { await _inner.DeleteContainerGroupAsync(containerGroupId, ct); return true; }, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _deletesInFlight);
        }
    }

    public Task<IReadOnlyList<ContainerGroup>> DescribeContainerGroupStatusAsync(IReadOnlyList<string> containerGroupIds, CancellationToken cancellationToken = default) =>
        Paced(_describeBudget, "describeStatus", ct => _inner.DescribeContainerGroupStatusAsync(containerGroupIds, ct), cancellationToken);

    public Task<ContainerGroupPage> DescribeChangedContainerGroupStatusAsync(ChangedSinceQuery query, CancellationToken cancellationToken = default) =>
        Paced(_describeBudget, "describeStatus", ct => _inner.DescribeChangedContainerGroupStatusAsync(query, ct), cancellationToken);

    public Task<ContainerGroupPage> DescribeContainerGroupsAsync(DescribeContainerGroupsQuery query, CancellationToken cancellationToken = default) =>
        Counted("describeGroups", () => _inner.DescribeContainerGroupsAsync(query, cancellationToken));

    public Task<IReadOnlyList<ContainerGroupEvent>> DescribeContainerGroupEventsAsync(string containerGroupId, CancellationToken cancellationToken = default) =>
        Paced(_describeBudget, "describeEvents", ct => _inner.DescribeContainerGroupEventsAsync(containerGroupId, ct), cancellationToken);

    public Task<string> DescribeContainerLogAsync(string containerGroupId, string containerName, int? tailLines = null, CancellationToken cancellationToken = default) =>
        Counted("describeLog", () => _inner.DescribeContainerLogAsync(containerGroupId, containerName, tailLines, cancellationToken));

    public ProviderQuotaUsage GetUsage()
    {
        var statistics = _budget?.GetStatistics();
        return new ProviderQuotaUsage(_budget is null, _shape.Burst, _shape.PerSecond, statistics?.CurrentAvailablePermits ?? 0,
            statistics?.CurrentQueuedCount ?? 0, Interlocked.Read(ref _spent),
            Volatile.Read(ref _createsInFlight), Volatile.Read(ref _deletesInFlight));
    }

    public void Dispose()
    {
        _budget?.Dispose();
        _describeBudget.Dispose();
    }

    private async Task<T> Paced<T>(RateLimiter? budget, string operation, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        if (budget is not null)
        {
            var waitingSince = Stopwatch.GetTimestamp();
            using var lease = await AcquireAsync(budget, operation, cancellationToken);
            if (!lease.IsAcquired)
            {
                var refused = new ThrottledException("Throttling.Client", $"the {operation} budget's queue is full", TimeSpan.FromSeconds(1));
                Count(operation, refused.Error);
                throw refused;
            }

            PacingDelay.Record(Stopwatch.GetElapsedTime(waitingSince).TotalSeconds, new KeyValuePair<string, object?>("operation", operation));
            if (budget == _budget)
            {
                Interlocked.Increment(ref _spent);
            }
        }

        return await Counted(operation, () => call(cancellationToken));
    }

    /// <summary>A token of the budget. A call cancelled while it waits here was never sent, and says so.</summary>
    private static async Task<RateLimitLease> AcquireAsync(RateLimiter budget, string operation, CancellationToken cancellationToken)
    {
        try
        {
            return await budget.AcquireAsync(1, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new RequestNotSentException(operation, cancellationToken);
        }
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
            Count(operation, ex.Error);
            throw;
        }
    }

    private static void Count(string operation, ProviderError error)
    {
        var kind = (int)error.Kind < ErrorKindNames.Length ? ErrorKindNames[(int)error.Kind] : error.Kind.ToString();
        Calls.Add(1, new("operation", operation), new("outcome", kind), new("code", error.Code));
        if (error.Kind == ProviderErrorKind.Throttled)
        {
            Throttles.Add(1, new("operation", operation), new("code", error.Code));
        }
    }
}

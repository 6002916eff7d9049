using System.Threading.RateLimiting;

namespace VNodeMesh.Silo.Kubernetes;

/// <summary>
/// This silo's client-side budget of pod writes (QPS and burst, as client-go's rate limiter). Node
/// and Lease writes do not spend it: a status storm must never let the node's heartbeat lapse.
/// </summary>
public sealed class WriteBudget : IDisposable
{
    private readonly TokenBucketRateLimiter _limiter;

    public WriteBudget(IOptions<KubernetesOptions> options)
    {
        var qps = options.Value.WriteQps;
        var period = qps >= 10 ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(1 / qps);
        _limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = options.Value.WriteBurst,
            TokensPerPeriod = Math.Max(1, (int)Math.Round(qps * period.TotalSeconds)),
            ReplenishmentPeriod = period,
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        });
    }

    public async ValueTask SpendAsync(CancellationToken cancellationToken)
    {
        using var lease = await _limiter.AcquireAsync(1, cancellationToken);
    }

    public void Dispose() => _limiter.Dispose();
}

using VNodeMesh.Silo.Providers;

namespace VNodeMesh.Silo.Kubernetes;

/// <summary>
/// This silo's client-side budget of pod writes (QPS and burst, as client-go's rate limiter). Node
/// and Lease writes do not spend it: a status storm must never let the node's heartbeat lapse.
/// </summary>
public class WriteBudget : IDisposable
{
    private readonly SteadyTokenBucket _limiter;

    public WriteBudget(IOptions<KubernetesOptions> options)
        : this(options.Value.WriteQps, options.Value.WriteBurst)
    {
    }

    protected WriteBudget(double qps, int burst)
    {
        _limiter = new SteadyTokenBucket(burst, qps);
    }

    public async ValueTask SpendAsync(CancellationToken cancellationToken)
    {
        using var lease = await _limiter.AcquireAsync(1, cancellationToken);
    }

    public void Dispose() => _limiter.Dispose();
}

/// <summary>
/// The budget of Event writes, apart from the status budget: during a burst Events wait (aggregated)
/// rather than slow down the status writes that bring pods to Running.
/// </summary>
public sealed class EventBudget(IOptions<KubernetesOptions> options) : WriteBudget(options.Value.EventQps, options.Value.EventBurst);

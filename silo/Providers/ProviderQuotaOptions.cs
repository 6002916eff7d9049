using System.ComponentModel.DataAnnotations;

namespace VNodeMesh.Silo.Providers;

/// <summary>
/// The cloud account's API budgets (section <c>VNodeMesh:Provider:Quota</c>). VNodeMesh spends them
/// evenly itself rather than learning them from throttled calls.
/// </summary>
public sealed class ProviderQuotaOptions
{
    public const string Section = "VNodeMesh:Provider:Quota";

    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 100;

    [Range(0.01, 1_000_000)]
    public double PerSecond { get; set; } = 20;

    /// <summary>
    /// The share of the refill left unspent, so that calls reaching the cloud a little late or out of
    /// order never meet its own throttle.
    /// </summary>
    [Range(0.0, 0.5)]
    public double Headroom { get; set; } = 0.02;

    /// <summary>
    /// How late the first calls of a burst may reach the cloud: the cloud's bucket starts refilling only
    /// when they arrive, so the burst spent at once is smaller by this much refill.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan ArrivalSlack { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>No client-side pacing of creates and deletes (an account without a create budget, or a simulator without one).</summary>
    public bool Unlimited { get; set; }

    /// <summary>
    /// With the budget shared through Redis (cluster profile): how long a create or delete waits for Redis
    /// to answer before it fails as a transient error. It is never sent unpaced.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan RedisTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>DescribeContainerGroupStatus and DescribeContainerGroupEvents calls the account may make per minute.</summary>
    [Range(60, 10_000_000)]
    public int DescribePerMinute { get; set; } = 10_000;
}

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

    /// <summary>No client-side pacing of creates and deletes (an account without a create budget, or a simulator without one).</summary>
    public bool Unlimited { get; set; }

    /// <summary>DescribeContainerGroupStatus and DescribeContainerGroupEvents calls the account may make per minute.</summary>
    [Range(60, 10_000_000)]
    public int DescribePerMinute { get; set; } = 10_000;
}

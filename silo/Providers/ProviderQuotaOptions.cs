using System.ComponentModel.DataAnnotations;

namespace VNodeMesh.Silo.Providers;

/// <summary>
/// The cloud account's create/delete budget (section <c>VNodeMesh:Provider:Quota</c>). VNodeMesh
/// spends it evenly itself rather than learning it from throttled calls.
/// </summary>
public sealed class ProviderQuotaOptions
{
    public const string Section = "VNodeMesh:Provider:Quota";

    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 100;

    [Range(0.01, 1_000_000)]
    public double PerSecond { get; set; } = 20;

    /// <summary>No client-side pacing (an account without a create budget, or a simulator without one).</summary>
    public bool Unlimited { get; set; }
}

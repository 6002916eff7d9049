using System.Threading.RateLimiting;

namespace VNodeMesh.Silo.Providers;

/// <summary>
/// Where the account's create/delete budget is kept: in the process (<see cref="LocalProviderBudget"/>),
/// or in a store every silo of the cluster spends from.
/// </summary>
public interface IProviderBudget
{
    /// <summary>The limiter creates and deletes wait on, shaped by <see cref="BudgetShape.Of"/>; the caller disposes it.</summary>
    RateLimiter CreateLimiter(ProviderQuotaOptions quota);
}

/// <summary>The bucket VNodeMesh spends: smaller and slower than the cloud's by the quota's arrival slack and headroom.</summary>
public readonly record struct BudgetShape(int Burst, double PerSecond)
{
    public static BudgetShape Of(ProviderQuotaOptions quota) => new(
        Math.Max(1, Math.Min(quota.Burst - (int)Math.Ceiling(quota.PerSecond * quota.ArrivalSlack.TotalSeconds), quota.Burst * 9 / 10)),
        quota.PerSecond * (1 - quota.Headroom));
}

/// <summary>The process's own token bucket: right for one silo process, or several silos in one process.</summary>
public sealed class LocalProviderBudget : IProviderBudget
{
    public static readonly LocalProviderBudget Instance = new();

    public RateLimiter CreateLimiter(ProviderQuotaOptions quota)
    {
        var shape = BudgetShape.Of(quota);
        return new SteadyTokenBucket(shape.Burst, shape.PerSecond);
    }
}

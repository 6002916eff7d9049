namespace VNodeMesh.Contracts.Provider;

/// <summary>
/// The create/delete budget of one silo's provider at a moment: what the token bucket holds, what
/// waits for it, and the calls on their way.
/// </summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.ProviderQuotaUsage")]
public sealed record ProviderQuotaUsage(
    [property: Id(0)] bool Unlimited,
    [property: Id(1)] int Burst,
    [property: Id(2)] double PerSecond,
    [property: Id(3)] long Available,
    [property: Id(4)] long Queued,
    [property: Id(5)] long Spent,
    [property: Id(6)] int CreatesInFlight,
    [property: Id(7)] int DeletesInFlight);

/// <summary>A provider that spends a create/delete budget and can tell how much of it is in use.</summary>
public interface IProviderQuota
{
    ProviderQuotaUsage GetUsage();
}

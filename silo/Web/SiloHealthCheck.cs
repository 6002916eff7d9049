using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace VNodeMesh.Silo.Web;

/// <summary>Ready once the silo has joined its cluster and until it starts leaving it.</summary>
public sealed class SiloHealthCheck(ISiloStatusOracle membership) : IHealthCheck
{
    public const string ReadyTag = "ready";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(membership.CurrentStatus == SiloStatus.Active
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy($"silo is {membership.CurrentStatus}"));
}

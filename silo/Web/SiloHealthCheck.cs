using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace VNodeMesh.Silo.Web;

/// <summary>
/// Ready once the silo has joined its cluster, until the host starts stopping: a silo on its way out takes no new
/// traffic while it hands its grains over, even before its cluster status changes.
/// </summary>
public sealed class SiloHealthCheck(ISiloStatusOracle membership, IHostApplicationLifetime lifetime) : IHealthCheck
{
    public const string ReadyTag = "ready";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested
            ? HealthCheckResult.Unhealthy("the silo is shutting down")
            : membership.CurrentStatus == SiloStatus.Active
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"silo is {membership.CurrentStatus}"));
}

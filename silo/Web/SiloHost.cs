using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using VNodeMesh.Silo.Hosting;
using VNodeMesh.Silo.Telemetry;
using VNodeMesh.Silo.Web.Dashboard;

namespace VNodeMesh.Silo.Web;

/// <summary>
/// The silo process: Orleans with VNodeMesh on the configured profile, and one HTTP endpoint for
/// health probes, metrics and the dashboard. Every setting can be overridden by environment
/// variables (<c>VNODEMESH__NODES__ITEMS__0__NAME=...</c>).
/// </summary>
public static class SiloHost
{
    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args });
        builder.Configuration.AddCommandLine(args, new Dictionary<string, string> { ["--kubeconfig"] = "VNodeMesh:Kubernetes:Kubeconfig" });
        var configuration = builder.Configuration;
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning); // not a line per probe and scrape

        builder.Services.AddOptions<HttpOptions>().Bind(configuration.GetSection(HttpOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        var http = configuration.GetSection(HttpOptions.Section).Get<HttpOptions>() ?? new();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.TryParse(http.Address, out var ip) ? ip : IPAddress.Loopback, http.Port));
        builder.Services.AddHealthChecks().AddCheck<SiloHealthCheck>("silo", tags: [SiloHealthCheck.ReadyTag]);
        builder.Services.AddHostedService<SiloShutdown>();

        builder.UseOrleans(silo => silo
            .UseProfile(configuration)
            .AddVNodeMesh(configuration)
            .UseKubernetes(configuration)
            .AddVNodeMeshDashboard(configuration));
        builder.AddVNodeMeshTelemetry();
        return builder;
    }

    /// <summary>
    /// Liveness answers while the process serves HTTP; readiness while the silo is an active cluster member and not
    /// shutting down. Metrics for Prometheus at <c>/metrics</c> (<c>VNodeMesh:Telemetry</c>).
    /// </summary>
    public static WebApplication MapSiloEndpoints(this WebApplication app)
    {
        app.MapHealthChecks("/healthz/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/healthz/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(SiloHealthCheck.ReadyTag) });
        app.MapVNodeMeshTelemetry();
        app.MapVNodeMeshDashboard();
        return app;
    }
}

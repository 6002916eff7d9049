using Microsoft.Extensions.Hosting;

namespace VNodeMesh.Silo.Web;

/// <summary>
/// Takes the silo out of its cluster before the HTTP server stops (the host stops the server first): through the
/// hand-over of its grains the probes still answer, readiness with 503 and liveness with 200, and metrics can be scraped.
/// </summary>
public sealed class SiloShutdown(Orleans.Runtime.Silo silo) : IHostedLifecycleService
{
    // The host calls every StoppingAsync before any StopAsync; the silo's own hosted service then finds it stopped.
    public Task StoppingAsync(CancellationToken cancellationToken) => silo.StopAsync(cancellationToken);

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

using Microsoft.Extensions.Hosting;

namespace VNodeMesh.Silo.Hosting;

/// <summary>
/// Keeps the configured virtual nodes active: a node grain whose silo died is activated again on a
/// surviving silo at the next check, and resumes its status poll.
/// </summary>
public sealed partial class VirtualNodeKeeper(
    IGrainFactory grains,
    IOptions<NodesOptions> options,
    TimeProvider time,
    ILogger<VirtualNodeKeeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.KeepAliveInterval, time);
        do
        {
            foreach (var name in options.Value.Items.Select(n => n.Name))
            {
                try
                {
                    await grains.GetGrain<IVirtualNodeGrain>(name).GetSummary();
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    LogNodeUnreachable(ex, name);
                }
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Virtual node {Node} could not be reached; retrying")]
    private partial void LogNodeUnreachable(Exception exception, string node);
}

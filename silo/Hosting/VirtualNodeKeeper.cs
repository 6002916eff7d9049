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
            await Task.WhenAll(options.Value.Items.Select(n => KeepAsync(n.Name, stoppingToken)));
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private async Task KeepAsync(string name, CancellationToken stoppingToken)
    {
        try
        {
            // Not the call's own 30 s timeout: while a dead silo is being declared dead, the node is
            // asked again at every tick, so it is activated elsewhere at the first one after.
            await grains.GetGrain<IVirtualNodeGrain>(name).GetSummary().WaitAsync(options.Value.KeepAliveInterval, stoppingToken);
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            LogNodeUnreachable(ex, name);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Virtual node {Node} could not be reached; retrying")]
    private partial void LogNodeUnreachable(Exception exception, string node);
}

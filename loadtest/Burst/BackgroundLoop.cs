namespace VNodeMesh.LoadTest.Burst;

/// <summary>
/// A loop the tool runs beside a burst (a watch, a scraper, a fault schedule) until it is disposed:
/// disposing cancels the loop and waits for it to end.
/// </summary>
public sealed class BackgroundLoop : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public BackgroundLoop(Func<CancellationToken, Task> run)
    {
        var stopping = _stop.Token;
        _loop = Task.Run(() => run(stopping), CancellationToken.None);
    }

    /// <summary>Runs <paramref name="tick"/> every <paramref name="interval"/> until disposed.</summary>
    public static BackgroundLoop Every(TimeSpan interval, Func<CancellationToken, Task> tick) => new(async stopping =>
    {
        using var timer = new PeriodicTimer(interval);
        while (await timer.WaitForNextTickAsync(stopping))
        {
            await tick(stopping);
        }
    });

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}

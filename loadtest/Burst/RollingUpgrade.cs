using System.Diagnostics;
using VNodeMesh.LoadTest.Cluster;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>One silo replaced: its successor started and ready, then it was stopped with SIGTERM.</summary>
/// <param name="ReadyAfterSeconds">From the successor's start until its <c>/healthz/ready</c> answered.</param>
/// <param name="StoppedAfterSeconds">From the SIGTERM until the old silo exited.</param>
/// <param name="Ended">How the old silo ended: <c>stopped (0)</c> when it exited by itself within the grace period...</param>
/// <param name="Cleanly">...as it should.</param>
public sealed record SiloReplacementReport(string Started, double ReadyAfterSeconds, string Stopped, double StoppedAfterSeconds, string Ended, bool Cleanly);

/// <summary>A rolling upgrade in a burst, and whether pods kept being created through it.</summary>
public sealed record RollingUpgradeReport
{
    /// <summary>Seconds into the run when the first successor was started.</summary>
    public double StartedAtSeconds { get; init; }
    /// <summary>Seconds into the run when the last old silo had exited; null if the upgrade did not finish.</summary>
    public double? EndedAtSeconds { get; init; }
    public IReadOnlyList<SiloReplacementReport> Replacements { get; init; } = [];
    /// <summary>Instances created per second in the 30 s before the upgrade (from no earlier than when the quota's burst was spent).</summary>
    public double? CreatesPerSecondBefore { get; init; }
    /// <summary>Instances created per second during the upgrade, until the last instance of the run was created...</summary>
    public double? CreatesPerSecondDuring { get; init; }
    /// <summary>...which is this many seconds.</summary>
    public double? DuringSeconds { get; init; }
    /// <summary>The longest time without a new instance during the upgrade while pods still waited for theirs (0.1 s resolution).</summary>
    public double? LongestCreateGapSeconds { get; init; }
    /// <summary>Why the upgrade stopped short, if it did.</summary>
    public string? Error { get; init; }
}

/// <summary>
/// Replaces every silo of a run one at a time, as the chart's rolling update does (<c>maxSurge: 1</c>,
/// <c>maxUnavailable: 0</c>): start a successor, wait until it is ready, then SIGTERM the oldest silo and
/// wait for it to hand its work over and exit. It runs beside the burst, which goes on creating pods.
/// </summary>
public sealed class RollingUpgrade : IAsyncDisposable
{
    private readonly SiloProcessCluster _cluster;
    private readonly TimeSpan _gracePeriod;
    private readonly Action<string> _log;
    private readonly double _startedAtSeconds;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<SiloReplacementReport> _replacements = [];
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;
    private double? _endedAtSeconds;
    private string? _error;

    /// <param name="gracePeriod">How long an old silo may take to exit after SIGTERM before it is killed (the pod's termination grace period).</param>
    /// <param name="startedAtSeconds">Seconds into the run now, so that the report's times are the run's.</param>
    public RollingUpgrade(SiloProcessCluster cluster, TimeSpan gracePeriod, double startedAtSeconds, Action<string> log)
    {
        (_cluster, _gracePeriod, _startedAtSeconds, _log) = (cluster, gracePeriod, startedAtSeconds, log);
        _run = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
    }

    public bool Completed => _run.IsCompleted;

    /// <summary>The seconds into the run over which it went on: from its start until its end, or until now.</summary>
    private (double From, double To) Window => (_startedAtSeconds, _endedAtSeconds ?? Now);

    private double Now => _startedAtSeconds + _clock.Elapsed.TotalSeconds;

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach (var old in _cluster.Running)
            {
                var starting = Stopwatch.StartNew();
                var successor = await _cluster.AddAsync(cancellationToken);
                var ready = starting.Elapsed.TotalSeconds;
                _log($"rolling upgrade: {successor.Name} (pid {successor.ProcessId}) ready after {ready:0.0}s; stopping {old.Name} (pid {old.ProcessId}) at {Now:0.0}s");

                var stopping = Stopwatch.StartNew();
                await old.StopAsync(_gracePeriod);
                var stopped = stopping.Elapsed.TotalSeconds;
                _log($"rolling upgrade: {old.Name} {old.Ended} after {stopped:0.0}s");
                lock (_gate)
                {
                    _replacements.Add(new(successor.Name, Math.Round(ready, 2), old.Name, Math.Round(stopped, 2), old.Ended, old.StoppedCleanly));
                }
            }

            _endedAtSeconds = Now;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            _error = ex.Message;
            _log($"rolling upgrade stopped short: {ex.Message}");
        }
        catch (Exception)
        {
            _error = "the run ended first";
        }
    }

    /// <param name="creates">The cloud's instance count over the run (seconds into it, instances created so far).</param>
    /// <param name="burstSpentAt">Seconds into the run when the quota's burst was spent, so that the rate before is the refill's.</param>
    public RollingUpgradeReport Report(IReadOnlyList<(double Seconds, long Created)> creates, double burstSpentAt)
    {
        List<SiloReplacementReport> replacements;
        lock (_gate)
        {
            replacements = [.. _replacements];
        }

        var (from, to) = Window;
        var report = new RollingUpgradeReport
        {
            StartedAtSeconds = Math.Round(from, 1),
            EndedAtSeconds = _endedAtSeconds is { } ended ? Math.Round(ended, 1) : null,
            Replacements = replacements,
            Error = _error,
        };
        if (creates.Count == 0 || creates[^1].Created == 0)
        {
            return report;
        }

        var total = creates[^1].Created;
        var allCreated = creates.First(s => s.Created >= total).Seconds;
        var before = Math.Max(from - 30, burstSpentAt);
        var until = Math.Min(to, allCreated);
        return report with
        {
            CreatesPerSecondBefore = from > before ? Math.Round((CreatedAt(creates, from) - CreatedAt(creates, before)) / (from - before), 2) : null,
            CreatesPerSecondDuring = until > from ? Math.Round((CreatedAt(creates, until) - CreatedAt(creates, from)) / (until - from), 2) : null,
            DuringSeconds = until > from ? Math.Round(until - from, 1) : null,
            LongestCreateGapSeconds = until > from ? Math.Round(LongestGap(creates, from, until), 1) : null,
        };
    }

    private static long CreatedAt(IReadOnlyList<(double Seconds, long Created)> creates, double seconds) =>
        creates.LastOrDefault(s => s.Seconds <= seconds, creates[0]).Created;

    /// <summary>The longest span in [from, until] over which the count did not grow.</summary>
    private static double LongestGap(IReadOnlyList<(double Seconds, long Created)> creates, double from, double until)
    {
        double longest = 0, grewAt = from;
        var last = CreatedAt(creates, from);
        foreach (var (seconds, created) in creates.Where(s => s.Seconds > from && s.Seconds <= until))
        {
            if (created > last)
            {
                longest = Math.Max(longest, seconds - grewAt);
                (grewAt, last) = (seconds, created);
            }
        }

        return Math.Max(longest, until - grewAt);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run;
        _stop.Dispose();
    }
}

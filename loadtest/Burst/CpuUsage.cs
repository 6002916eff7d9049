using System.Diagnostics;
using System.Globalization;
using System.Runtime;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>
/// How busy the machine was during a phase: this process's CPU (in cores) and, on Linux, the whole
/// machine's busy share of all its cores. On a shared machine this tells a slow phase from a starved one.
/// What the process allocated, how long its garbage collector paused it and what the JIT compiler compiled tell
/// where its CPU went.
/// </summary>
public sealed record CpuUsage(double ProcessCores, double? MachineBusyPercent, int Cores, double AllocatedMB, double GcPausePercent,
    int[] GcCollections, double JitSeconds, int JitMethods)
{
    /// <summary>Starts measuring; <see cref="CpuMeter.Stop"/> at the end of the phase gives the usage.</summary>
    public static CpuMeter Start() => new();
}

public sealed class CpuMeter
{
    private readonly long _startedAt = Stopwatch.GetTimestamp();
    private readonly TimeSpan _processStart = Process.GetCurrentProcess().TotalProcessorTime;
    private readonly (long Busy, long Total)? _machineStart = MachineTicks();
    private readonly long _allocatedStart = GC.GetTotalAllocatedBytes();
    private readonly TimeSpan _pausedStart = GC.GetTotalPauseDuration();
    private readonly int[] _collectionsStart = Collections();
    private readonly TimeSpan _jitStart = JitInfo.GetCompilationTime();
    private readonly long _jitMethodsStart = JitInfo.GetCompiledMethodCount();

    public CpuUsage Stop()
    {
        var wall = Stopwatch.GetElapsedTime(_startedAt).TotalSeconds;
        var process = (Process.GetCurrentProcess().TotalProcessorTime - _processStart).TotalSeconds;
        double? machine = null;
        if (_machineStart is { } start && MachineTicks() is { } end && end.Total > start.Total)
        {
            machine = Math.Round(100.0 * (end.Busy - start.Busy) / (end.Total - start.Total), 1);
        }

        var allocated = (GC.GetTotalAllocatedBytes() - _allocatedStart) / 1048576.0;
        var paused = (GC.GetTotalPauseDuration() - _pausedStart).TotalSeconds;
        return new CpuUsage(wall > 0 ? Math.Round(process / wall, 2) : 0, machine, Environment.ProcessorCount,
            Math.Round(allocated, 1), wall > 0 ? Math.Round(100 * paused / wall, 1) : 0,
            [.. Collections().Zip(_collectionsStart, (end, start) => end - start)],
            Math.Round((JitInfo.GetCompilationTime() - _jitStart).TotalSeconds, 2),
            (int)(JitInfo.GetCompiledMethodCount() - _jitMethodsStart));
    }

    /// <summary>Collections so far of generations 0, 1 and 2 (a collection of a generation also counts for the younger ones).</summary>
    private static int[] Collections() => [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];

    /// <summary>All cores' busy and total ticks from /proc/stat (idle and iowait are not busy); null elsewhere.</summary>
    private static (long Busy, long Total)? MachineTicks()
    {
        try
        {
            var line = File.ReadLines("/proc/stat").FirstOrDefault(l => l.StartsWith("cpu ", StringComparison.Ordinal));
            if (line is null)
            {
                return null;
            }

            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
                .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var total = fields.Sum();
            var idle = fields[3] + (fields.Length > 4 ? fields[4] : 0);
            return (total - idle, total);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}

using System.Diagnostics;
using System.Globalization;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>
/// How busy the machine was during a phase: this process's CPU (in cores) and, on Linux, the whole
/// machine's busy share of all its cores. On a shared machine this tells a slow phase from a starved one.
/// </summary>
public sealed record CpuUsage(double ProcessCores, double? MachineBusyPercent, int Cores)
{
    /// <summary>Starts measuring; <see cref="CpuMeter.Stop"/> at the end of the phase gives the usage.</summary>
    public static CpuMeter Start() => new();
}

public sealed class CpuMeter
{
    private readonly long _startedAt = Stopwatch.GetTimestamp();
    private readonly TimeSpan _processStart = Process.GetCurrentProcess().TotalProcessorTime;
    private readonly (long Busy, long Total)? _machineStart = MachineTicks();

    public CpuUsage Stop()
    {
        var wall = Stopwatch.GetElapsedTime(_startedAt).TotalSeconds;
        var process = (Process.GetCurrentProcess().TotalProcessorTime - _processStart).TotalSeconds;
        double? machine = null;
        if (_machineStart is { } start && MachineTicks() is { } end && end.Total > start.Total)
        {
            machine = Math.Round(100.0 * (end.Busy - start.Busy) / (end.Total - start.Total), 1);
        }

        return new CpuUsage(wall > 0 ? Math.Round(process / wall, 2) : 0, machine, Environment.ProcessorCount);
    }

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

using Spectre.Console;
using VNodeMesh.LoadTest.Burst;

namespace VNodeMesh.Tests.LoadTest;

/// <summary>What the burst tool's tests share: a small burst on the unlimited, zero-latency cloud, and a console that prints nothing.</summary>
internal static class TestBursts
{
    public static BurstSettings Unlimited(int pods) => new()
    {
        Pods = pods,
        Quota = BurstSettings.ParseQuota("unlimited"),
        ZeroLatency = true,
        Timeout = TimeSpan.FromSeconds(90),
    };

    public static IAnsiConsole Silent() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });
}

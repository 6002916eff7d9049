using VNodeMesh.Tests.Helm;

namespace VNodeMesh.Tests.LoadTest;

/// <summary>The burst tool's command line, run as people run it: a bad value stops it before anything starts.</summary>
public sealed class BurstCommandLineTests
{
    /// <summary>The tool as built next to the tests (the test project references it).</summary>
    private static readonly string Tool = Path.Combine(AppContext.BaseDirectory, "VNodeMesh.LoadTest.dll");

    /// <summary>The host running these tests when it is <c>dotnet</c>, else the one on PATH.</summary>
    private static string Dotnet => Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";

    [Theory]
    [InlineData("--dashboard")]
    [InlineData("--telemetry")]
    public async Task An_on_off_option_refuses_another_value_and_names_itself(string option)
    {
        var result = await HelmTools.RunAsync(Dotnet, [Tool, "burst", option, "maybe"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{option} 'maybe' is neither 'on' nor 'off'", result.Stderr);
    }

    [Fact]
    public async Task The_dashboard_is_refused_with_kubernetes()
    {
        var result = await HelmTools.RunAsync(Dotnet, [Tool, "burst", "--kubernetes", "--dashboard", "on"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--dashboard on", result.Stderr);
    }
}

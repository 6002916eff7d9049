using VNodeMesh.Tests.Helm;

namespace VNodeMesh.Tests.LoadTest;

/// <summary>The burst tool's command line, run as people run it: options that cannot work stop it before anything starts, named.</summary>
public sealed class BurstCommandLineTests
{
    /// <summary>The tool as built next to the tests (the test project references it).</summary>
    private static readonly string Tool = Path.Combine(AppContext.BaseDirectory, "VNodeMesh.LoadTest.dll");

    /// <summary>The host running these tests when it is <c>dotnet</c>, else the one on PATH.</summary>
    private static string Dotnet => Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";

    [Theory]
    [InlineData("--dashboard maybe", "--dashboard 'maybe' is not 'on', 'profiled' or 'off'")]
    [InlineData("--telemetry maybe", "--telemetry 'maybe' is neither 'on' nor 'off'")]
    [InlineData("--kubernetes --dashboard on", "--dashboard on")]
    [InlineData("--profile cluster", "--profile cluster needs --kubernetes")]
    [InlineData("--profile moon", "--profile 'moon' is neither 'local' nor 'cluster'")]
    [InlineData("--kubernetes --profile cluster --silos 1 --kill-silo-at 0.5", "--kill-silo-at needs --silos 2 or more")]
    [InlineData("--silos 3 --kill-silo-at 1.5", "--kill-silo-at must be a fraction of the pods greater than 0 and less than 1, not 1.5")]
    [InlineData("--silos 3 --kill-silo-at 0", "--kill-silo-at must be a fraction of the pods greater than 0 and less than 1, not 0")]
    [InlineData("--kubernetes --redis 127.0.0.1:6379", "--redis needs --profile cluster")]
    [InlineData("--kubernetes --profile cluster --redis localhost", "--redis 'localhost' is not host:port")]
    [InlineData("--kubernetes --profile cluster --restart-redis-at 2", "--restart-redis-at must be a fraction of the pods")]
    [InlineData("--kubernetes --profile cluster --redis 127.0.0.1:6379 --restart-redis-at 0.3", "--restart-redis-at restarts the tool's own Redis")]
    [InlineData("--kubernetes --rolling-upgrade-at 0.2", "--rolling-upgrade-at needs --profile cluster")]
    [InlineData("--kubernetes --profile cluster --rolling-upgrade-at 1", "--rolling-upgrade-at must be a fraction of the pods greater than 0 and less than 1, not 1")]
    [InlineData("--kubernetes --profile cluster --silos 2 --kill-silo-at 0.5 --rolling-upgrade-at 0.2", "--rolling-upgrade-at and --kill-silo-at cannot be combined")]
    [InlineData("--api-faults", "--api-faults needs --kubernetes")]
    [InlineData("--kubernetes --run-dir /tmp/x", "--run-dir needs --profile cluster")]
    [InlineData("--warmup=-5", "--warmup must be 0 or more, not -5")]
    [InlineData("--kubernetes --warmup 100", "--warmup is for the embedded burst, not --kubernetes")]
    public async Task Options_that_cannot_work_are_refused_with_a_message_naming_them(string arguments, string message)
    {
        var result = await HelmTools.RunAsync(Dotnet, [Tool, "burst", .. arguments.Split(' ')]);

        Assert.True(result.ExitCode == 2, $"exit code {result.ExitCode}; stdout: {result.Stdout}; stderr: {result.Stderr}");
        Assert.Contains(message, result.Stderr);
    }
}

using System.Diagnostics;

namespace VNodeMesh.Tests.LoadTest;

/// <summary>The burst command refuses options that cannot work together, before it starts anything, naming them.</summary>
public sealed class BurstCommandLineTests
{
    [Theory]
    [InlineData("--profile cluster", "--profile cluster needs --kubernetes")]
    [InlineData("--profile moon", "--profile 'moon' is neither 'local' nor 'cluster'")]
    [InlineData("--kubernetes --profile cluster --silos 1 --kill-silo-at 0.5", "--kill-silo-at needs --silos 2 or more")]
    [InlineData("--silos 3 --kill-silo-at 1.5", "--kill-silo-at must be a fraction of the pods greater than 0 and less than 1, not 1.5")]
    [InlineData("--silos 3 --kill-silo-at 0", "--kill-silo-at must be a fraction of the pods greater than 0 and less than 1, not 0")]
    [InlineData("--kubernetes --redis 127.0.0.1:6379", "--redis needs --profile cluster")]
    [InlineData("--kubernetes --profile cluster --redis localhost", "--redis 'localhost' is not host:port")]
    [InlineData("--kubernetes --profile cluster --restart-redis-at 2", "--restart-redis-at must be a fraction of the pods")]
    [InlineData("--kubernetes --profile cluster --redis 127.0.0.1:6379 --restart-redis-at 0.3", "--restart-redis-at restarts the tool's own Redis")]
    [InlineData("--api-faults", "--api-faults needs --kubernetes")]
    [InlineData("--kubernetes --run-dir /tmp/x", "--run-dir needs --profile cluster")]
    public async Task Options_that_cannot_work_are_refused_with_a_message_naming_them(string arguments, string message)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "VNodeMesh.LoadTest.dll"));
        start.ArgumentList.Add("burst");
        foreach (var argument in arguments.Split(' '))
        {
            start.ArgumentList.Add(argument);
        }

        using var tool = Process.Start(start)!;
        var stderr = tool.StandardError.ReadToEndAsync();
        var stdout = tool.StandardOutput.ReadToEndAsync();
        await tool.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(tool.ExitCode == 2, $"exit code {tool.ExitCode}; stdout: {await stdout}; stderr: {await stderr}");
        Assert.Contains(message, await stderr);
    }
}

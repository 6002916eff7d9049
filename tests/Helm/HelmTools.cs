using System.Diagnostics;
using System.Text;

namespace VNodeMesh.Tests.Helm;

public sealed record ToolResult(int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;

    public ToolResult EnsureSuccess(string what)
    {
        Assert.True(ExitCode == 0, $"{what} exited {ExitCode}:\n{Stderr}\n{Stdout}");
        return this;
    }
}

/// <summary>
/// helm and kubectl, as <c>test.sh</c> installs them (<c>tools/install-helm.sh</c>) and names them in
/// <c>VNODEMESH_HELM</c> and <c>VNODEMESH_KUBECTL</c>; otherwise the ones on PATH.
/// </summary>
public static class HelmTools
{
    public static string Helm => Find("VNODEMESH_HELM", "helm");

    public static string Kubectl => Find("VNODEMESH_KUBECTL", "kubectl");

    /// <summary>The chart in this repository: found upwards from the test assembly.</summary>
    public static string ChartPath { get; } = FindChart();

    public static Task<ToolResult> HelmAsync(params string[] args) => RunAsync(Helm, args);

    public static Task<ToolResult> KubectlAsync(string? stdin, params string[] args) => RunAsync(Kubectl, args, stdin);

    public static async Task<ToolResult> RunAsync(string file, IEnumerable<string> args, string? stdin = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within 3 minutes");
        }

        return new(process.ExitCode, await stdout, await stderr);
    }

    private static string Find(string variable, string name)
    {
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } path)
        {
            return File.Exists(path) ? path : throw new InvalidOperationException($"{variable}={path} does not exist (tools/install-helm.sh installs it)");
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"{name} not found: set {variable} or run the tests through ./test.sh, which installs it (tools/install-helm.sh)");
    }

    private static string FindChart()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var chart = Path.Combine(dir.FullName, "helm", "vnodemesh");
            if (File.Exists(Path.Combine(chart, "Chart.yaml")))
            {
                return chart;
            }
        }

        throw new InvalidOperationException($"helm/vnodemesh not found above {AppContext.BaseDirectory}");
    }
}

using VNodeMesh.LoadTest.Burst;
using VNodeMesh.LoadTest.Cluster;

namespace VNodeMesh.Tests.Cluster;

/// <summary>One silo as a process of its own: ready when its probe says so, stopped gracefully or killed, its output kept.</summary>
public sealed class SiloProcessTests
{
    [Fact]
    public async Task A_silo_process_is_ready_stops_on_SIGTERM_and_dies_on_SIGKILL_with_its_output_in_files()
    {
        var directory = Directory.CreateTempSubdirectory("vnodemesh-silo-process-").FullName;
        try
        {
            SiloProcess Launch(int index)
            {
                var ports = LocalSiloCluster.FreePorts(3);
                return SiloProcess.Launch(new SiloProcessStart
                {
                    Index = index,
                    SiloDll = new SiloClusterOptions { RunDirectory = directory }.SiloDll,
                    RunDirectory = directory,
                    Settings = new Dictionary<string, string?>
                    {
                        ["VNodeMesh:Local:SiloPort"] = ports[0].ToString(),
                        ["VNodeMesh:Local:GatewayPort"] = ports[1].ToString(),
                        ["VNodeMesh:Local:PrimarySiloPort"] = ports[0].ToString(),
                    },
                    SiloPort = ports[0],
                    GatewayPort = ports[1],
                    HttpPort = ports[2],
                });
            }

            await using var stopped = Launch(1);
            await using var killed = Launch(2);
            await Task.WhenAll(stopped.WaitReadyAsync(TimeSpan.FromSeconds(120)), killed.WaitReadyAsync(TimeSpan.FromSeconds(120)));

            await stopped.StopAsync(TimeSpan.FromSeconds(60));
            Assert.False(stopped.IsRunning);
            Assert.Equal(0, stopped.ExitCode);
            Assert.True(stopped.OutputContains("Application is shutting down"), stopped.Tail());

            killed.Kill();
            Assert.False(killed.IsRunning);
            Assert.Equal(137, killed.ExitCode); // 128 + SIGKILL
            Assert.False(killed.OutputContains("Application is shutting down"), killed.Tail());
            Assert.True(File.Exists(killed.StdoutFile) && File.Exists(killed.StderrFile));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_silo_that_cannot_start_is_reported_with_the_end_of_its_output()
    {
        var directory = Directory.CreateTempSubdirectory("vnodemesh-silo-process-").FullName;
        try
        {
            var ports = LocalSiloCluster.FreePorts(3);
            await using var silo = SiloProcess.Launch(new SiloProcessStart
            {
                Index = 1,
                SiloDll = new SiloClusterOptions { RunDirectory = directory }.SiloDll,
                RunDirectory = directory,
                Settings = new Dictionary<string, string?> { ["VNodeMesh:Profile"] = "moon" },
                SiloPort = ports[0],
                GatewayPort = ports[1],
                HttpPort = ports[2],
            });

            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => silo.WaitReadyAsync(TimeSpan.FromSeconds(120)));
            Assert.Contains("silo-1", error.Message);
            Assert.Contains("'moon'", error.Message);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

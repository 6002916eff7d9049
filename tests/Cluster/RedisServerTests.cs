using VNodeMesh.LoadTest.Cluster;

namespace VNodeMesh.Tests.Cluster;

/// <summary>The Redis process the tests and the burst tool start for themselves.</summary>
public sealed class RedisServerTests
{
    [Fact]
    public async Task It_keeps_its_data_across_a_kill_and_a_restart_and_leaves_nothing_behind()
    {
        var server = await RedisServer.StartAsync();
        var directory = server.DataDirectory;
        var pid = server.ProcessId;
        try
        {
            Assert.NotNull(pid);
            using (var redis = await RedisBudgetKit.ConnectAsync(server))
            {
                await redis.GetDatabase().StringSetAsync("survives", "yes");
            }

            server.Kill();
            Assert.False(server.IsRunning);
            await server.RestartAsync();
            Assert.NotEqual(pid, server.ProcessId);
            using (var redis = await RedisBudgetKit.ConnectAsync(server))
            {
                Assert.Equal("yes", (string?)await redis.GetDatabase().StringGetAsync("survives"));
            }

            await server.StopAsync();
            Assert.False(server.IsRunning);
            await server.RestartAsync();
            pid = server.ProcessId;
            Assert.NotNull(pid);
        }
        finally
        {
            await server.DisposeAsync();
        }

        Assert.False(Directory.Exists(directory));
        Assert.Throws<ArgumentException>(() => System.Diagnostics.Process.GetProcessById(pid!.Value));
    }

    [Fact]
    public async Task A_missing_redis_server_is_named_with_how_to_install_it()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => RedisServer.StartAsync("/nonexistent/redis-server"));

        Assert.Contains("redis-server", error.Message);
        Assert.Contains("apt-get install", error.Message);
    }
}

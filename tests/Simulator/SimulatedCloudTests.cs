using k8s.Models;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using VNodeMesh.Silo.Providers.Simulator;

namespace VNodeMesh.Tests.Simulator;

public sealed class SimulatedCloudTests
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider time = new(Start);

    // ---- token bucket ----

    [Fact]
    public async Task Bucket_allows_the_burst_then_throttles_with_the_time_to_the_next_token()
    {
        var cloud = Cloud(SimulatorOptions.ZeroLatency());
        for (var i = 0; i < 100; i++)
        {
            await cloud.CreateContainerGroupAsync(Request($"t{i}"));
        }

        var throttled = await Assert.ThrowsAsync<ThrottledException>(() => cloud.CreateContainerGroupAsync(Request("t100")));
        Assert.Equal("Throttling.User", throttled.Error.Code);
        Assert.Equal(ProviderErrorKind.Throttled, throttled.Error.Kind);
        Assert.Equal(TimeSpan.FromMilliseconds(50), throttled.Error.RetryAfter);

        time.Advance(throttled.Error.RetryAfter!.Value);
        await cloud.CreateContainerGroupAsync(Request("t100"));
        await Assert.ThrowsAsync<ThrottledException>(() => cloud.CreateContainerGroupAsync(Request("t101")));

        var stats = cloud.Statistics;
        Assert.Equal(103, stats.CreateCalls);
        Assert.Equal(101, stats.InstancesCreated);
        Assert.Equal(2, stats.CreateThrottled);
        Assert.Equal(Start, stats.FirstCreateCallAt);
        Assert.Equal(Start.AddMilliseconds(50), stats.LastSuccessfulCreateAt);
    }

    [Fact]
    public async Task Bucket_refills_at_the_configured_rate_up_to_the_burst()
    {
        var cloud = Cloud(SimulatorOptions.ZeroLatency());
        var n = 0;
        Assert.Equal(100, await CreateUntilThrottled(cloud, () => $"t{n++}"));

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(20, await CreateUntilThrottled(cloud, () => $"t{n++}"));

        time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(100, await CreateUntilThrottled(cloud, () => $"t{n++}"));
    }

    [Fact]
    public async Task Unlimited_quota_never_throttles()
    {
        var options = SimulatorOptions.ZeroLatency();
        options.QuotaUnlimited = true;
        var cloud = Cloud(options);
        for (var i = 0; i < 1_000; i++)
        {
            await cloud.CreateContainerGroupAsync(Request($"t{i}"));
        }

        Assert.Equal(1_000, cloud.Statistics.InstancesAlive);
        Assert.Equal(0, cloud.Statistics.CreateThrottled);
    }

    [Fact]
    public async Task Delete_spends_from_the_same_bucket_as_create()
    {
        var options = SimulatorOptions.ZeroLatency();
        options.QuotaBurst = 2;
        options.QuotaPerSecond = 1;
        var cloud = Cloud(options);
        var a = await cloud.CreateContainerGroupAsync(Request("a"));
        await cloud.CreateContainerGroupAsync(Request("b"));

        var throttled = await Assert.ThrowsAsync<ThrottledException>(() => cloud.DeleteContainerGroupAsync(a.ContainerGroupId));
        Assert.Equal(TimeSpan.FromSeconds(1), throttled.Error.RetryAfter);
        Assert.Equal(1, cloud.Statistics.DeleteThrottled);

        time.Advance(TimeSpan.FromSeconds(1));
        await cloud.DeleteContainerGroupAsync(a.ContainerGroupId);
        await Assert.ThrowsAsync<ThrottledException>(() => cloud.CreateContainerGroupAsync(Request("c")));
    }

    // ---- idempotency ----

    [Fact]
    public async Task Same_client_token_returns_the_same_instance()
    {
        var cloud = Cloud(SimulatorOptions.ZeroLatency());
        var pod = Pod();
        var first = await cloud.CreateContainerGroupAsync(Request("token", pod));
        var second = await cloud.CreateContainerGroupAsync(Request("token", pod));

        Assert.Equal(first.ContainerGroupId, second.ContainerGroupId);
        Assert.Equal(first.ZoneId, second.ZoneId);
        Assert.NotEqual(first.RequestId, second.RequestId);
        Assert.Matches("^eci-[0-9a-f]{20}$", first.ContainerGroupId);
        Assert.Equal(1, cloud.Statistics.InstancesCreated);
        Assert.Equal(1, cloud.Statistics.CreateReplays);
        Assert.Equal(1, cloud.Statistics.InstancesAlive);
        Assert.Equal(1, cloud.InstancesCreatedForPod(pod.Metadata.Uid));
        Assert.Equal(0, cloud.Statistics.DuplicateInstances);
    }

    [Fact]
    public async Task A_replayed_token_skips_fault_injection()
    {
        var options = SimulatorOptions.ZeroLatency();
        options.NoStockSpecs = ["4-8Gi"];
        var cloud = Cloud(options);
        var created = await cloud.CreateContainerGroupAsync(Request("token"));

        // Whatever the replayed request says, the token already has its instance.
        var failing = Pod(annotations: new() { [SimulatorAnnotations.FailCreate] = "ServiceUnavailable" }, image: "invalid/app");
        var replay = await cloud.CreateContainerGroupAsync(Request("token", failing, Spec("4-8Gi")));
        Assert.Equal((created.ContainerGroupId, created.Spec), (replay.ContainerGroupId, replay.Spec));
        Assert.Equal(1, cloud.Statistics.InstancesAlive);
    }

    [Fact]
    public async Task Concurrent_creates_with_the_same_tokens_make_one_instance_per_token()
    {
        var options = SimulatorOptions.ZeroLatency();
        options.QuotaUnlimited = true;
        var cloud = Cloud(options);
        var pods = Enumerable.Range(0, 500).Select(_ => Pod()).ToArray();

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            var ids = new string[pods.Length];
            for (var i = 0; i < pods.Length; i++)
            {
                var index = (i + worker * 61) % pods.Length;
                ids[index] = (await cloud.CreateContainerGroupAsync(Request($"token-{index}", pods[index]))).ContainerGroupId;
            }

            return ids;
        })));

        Assert.All(results, ids => Assert.Equal(results[0], ids));
        var stats = cloud.Statistics;
        Assert.Equal((500, 500, 3_500, 0), (stats.InstancesAlive, stats.InstancesCreated, stats.CreateReplays, stats.DuplicateInstances));
        Assert.All(pods, pod => Assert.Equal(1, cloud.InstancesCreatedForPod(pod.Metadata.Uid)));
    }

    // ---- status progression ----

    [Fact]
    public async Task Status_progresses_at_the_sampled_times_and_runs_to_completion()
    {
        var cloud = Cloud(FixedLatency(schedule: 2, pending: 5));
        var pod = Pod(annotations: new() { [SimulatorAnnotations.RunSeconds] = "10" });
        var id = (await cloud.CreateContainerGroupAsync(Request("t", pod))).ContainerGroupId;

        var group = await Status(cloud, id);
        Assert.Equal(ContainerGroupStatus.Scheduling, group.Status);
        Assert.Equal(Start, group.CreatedAt);
        Assert.Equal(Start, group.StatusChangedAt);
        Assert.Null(group.IntranetIp);
        Assert.Equal(pod.Metadata.Uid, group.PodUid);
        var waiting = Assert.Single(group.Containers);
        Assert.Equal(("app", ContainerStateKind.Waiting, false, "ContainerCreating"), (waiting.Name, waiting.State, waiting.Ready, waiting.Reason));

        time.Advance(TimeSpan.FromSeconds(1.9));
        Assert.Equal(ContainerGroupStatus.Scheduling, (await Status(cloud, id)).Status);

        time.Advance(TimeSpan.FromSeconds(0.1));
        group = await Status(cloud, id);
        Assert.Equal(ContainerGroupStatus.Pending, group.Status);
        Assert.Equal(Start.AddSeconds(2), group.StatusChangedAt);
        Assert.NotNull(group.IntranetIp);
        Assert.Equal(ContainerStateKind.Waiting, group.Containers[0].State);

        time.Advance(TimeSpan.FromSeconds(5));
        group = await Status(cloud, id);
        Assert.Equal(ContainerGroupStatus.Running, group.Status);
        Assert.Equal(Start.AddSeconds(7), group.StatusChangedAt);
        var running = group.Containers[0];
        Assert.Equal((ContainerStateKind.Running, true), (running.State, running.Ready));
        Assert.Equal(Start.AddSeconds(7), running.StartedAt);

        time.Advance(TimeSpan.FromSeconds(10));
        group = await Status(cloud, id);
        Assert.Equal(ContainerGroupStatus.Succeeded, group.Status);
        Assert.Equal(Start.AddSeconds(17), group.StatusChangedAt);
        var done = group.Containers[0];
        Assert.Equal((ContainerStateKind.Terminated, false, 0, "Completed"), (done.State, done.Ready, done.ExitCode, done.Reason));
        Assert.Equal(Start.AddSeconds(7), done.StartedAt);
        Assert.Equal(Start.AddSeconds(17), done.FinishedAt);
    }

    [Fact]
    public async Task A_non_zero_exit_code_fails_the_instance()
    {
        var cloud = Cloud(SimulatorOptions.ZeroLatency());
        var pod = Pod(annotations: new() { [SimulatorAnnotations.RunSeconds] = "1.5", [SimulatorAnnotations.ExitCode] = "3" });
        var id = (await cloud.CreateContainerGroupAsync(Request("t", pod))).ContainerGroupId;
        Assert.Equal(ContainerGroupStatus.Running, (await Status(cloud, id)).Status);

        time.Advance(TimeSpan.FromSeconds(1.5));
        var group = await Status(cloud, id);
        Assert.Equal(ContainerGroupStatus.Failed, group.Status);
        Assert.Equal("Error", group.Reason);
        var container = group.Containers[0];
        Assert.Equal((ContainerStateKind.Terminated, 3, "Error"), (container.State, container.ExitCode, container.Reason));
    }

    [Fact]
    public async Task Without_run_seconds_an_instance_runs_forever()
    {
        var cloud = Cloud(SimulatorOptions.Realistic());
        var id = (await cloud.CreateContainerGroupAsync(Request("t"))).ContainerGroupId;
        time.Advance(TimeSpan.FromDays(30));
        Assert.Equal(ContainerGroupStatus.Running, (await Status(cloud, id)).Status);
    }

    [Fact]
    public async Task Realistic_latencies_stay_near_their_distribution()
    {
        var options = SimulatorOptions.Realistic();
        options.QuotaUnlimited = true;
        var cloud = Cloud(options);
        var ids = new List<string>();
        for (var i = 0; i < 400; i++)
        {
            ids.Add((await cloud.CreateContainerGroupAsync(Request($"t{i}"))).ContainerGroupId);
        }

        // Scheduling median 1 s, pending median 4 s: about half the instances Running at 5 s, almost all at 60 s.
        time.Advance(TimeSpan.FromSeconds(5));
        var runningAt5 = await CountRunning(cloud, ids);
        Assert.InRange(runningAt5, 120, 280);
        time.Advance(TimeSpan.FromSeconds(55));
        Assert.InRange(await CountRunning(cloud, ids), 396, 400);
    }

    // ---- changed-since ----

    [Fact]
    public async Task Changed_since_filters_by_window_and_tags()
    {
        var options = SimulatorOptions.ZeroLatency();
        options.QuotaUnlimited = true;
        var cloud = Cloud(options);
        for (var i = 0; i < 5; i++)
        {
            await cloud.CreateContainerGroupAsync(Request($"old{i}", node: "vn-a"));
        }

        time.Advance(TimeSpan.FromSeconds(60));
        for (var i = 0; i < 3; i++)
        {
            await cloud.CreateContainerGroupAsync(Request($"new-b{i}", node: "vn-b"));
        }

        for (var i = 0; i < 2; i++)
        {
            await cloud.CreateContainerGroupAsync(Request($"new-a{i}", node: "vn-a"));
        }

        Assert.Equal(5, (await cloud.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(30))).Items.Count);
        var nodeA = new Dictionary<string, string> { [ContainerGroupTags.Node] = "vn-a" };
        var recentA = await cloud.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(30, Tags: nodeA));
        Assert.Equal(2, recentA.Items.Count);
        Assert.All(recentA.Items, g => Assert.Equal("vn-a", g.Tags[ContainerGroupTags.Node]));
        Assert.Null(recentA.NextToken);
        Assert.Equal(7, (await cloud.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(120, Tags: nodeA))).Items.Count);

        var twoTags = new Dictionary<string, string> { [ContainerGroupTags.Node] = "vn-a", [ContainerGroupTags.Namespace] = "other" };
        Assert.Empty((await cloud.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(120, Tags: twoTags))).Items);
        Assert.Equal(4, cloud.Statistics.DescribeChangedSinceCalls);
    }

    [Fact]
    public async Task Changed_since_reports_later_status_changes_and_skips_deleted_instances()
    {
        var options = FixedLatency(schedule: 10, pending: 10);
        options.QuotaUnlimited = true;
        var cloud = Cloud(options);
        var a = (await cloud.CreateContainerGroupAsync(Request("a"))).ContainerGroupId;
        var b = (await cloud.CreateContainerGroupAsync(Request("b"))).ContainerGroupId;

        time.Advance(TimeSpan.FromSeconds(9));
        Assert.Empty((await cloud.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(5))).Items);

        time.Advance(TimeSpan.FromSeconds(2));
        var page = await cloud.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(5));
        Assert.Equal([a, b], page.Items.Select(g => g.ContainerGroupId).Order());
        Assert.All(page.Items, g => Assert.Equal(ContainerGroupStatus.Pending, g.Status));

        await cloud.DeleteContainerGroupAsync(a);
        Assert.Equal([b], (await cloud.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(5))).Items.Select(g => g.ContainerGroupId));
    }

    [Fact]
    public async Task Changed_since_pages_with_limit_and_next_token_without_duplicates()
    {
        var options = SimulatorOptions.ZeroLatency();
        options.QuotaUnlimited = true;
        var cloud = Cloud(options);
        var created = new HashSet<string>();
        for (var i = 0; i < 450; i++)
        {
            created.Add((await cloud.CreateContainerGroupAsync(Request($"t{i}"))).ContainerGroupId);
            if (i % 100 == 0)
            {
                time.Advance(TimeSpan.FromMilliseconds(10));
            }
        }

        var sizes = new List<int>();
        var seen = new List<string>();
        string? next = null;
        do
        {
            var page = await cloud.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(600, 200, next));
            sizes.Add(page.Items.Count);
            seen.AddRange(page.Items.Select(g => g.ContainerGroupId));
            next = page.NextToken;
        }
        while (next is not null);

        Assert.Equal([200, 200, 50], sizes);
        Assert.Equal(450, seen.Distinct().Count());
        Assert.True(created.SetEquals(seen));
    }

    [Fact]
    public async Task Changed_since_lists_each_instance_once_at_its_latest_change_and_pages_past_other_nodes_changes()
    {
        var options = FixedLatency(schedule: 1, pending: 1);
        options.QuotaUnlimited = true;
        var cloud = Cloud(options);
        var created = new HashSet<string>();
        for (var i = 0; i < 300; i++)
        {
            created.Add((await cloud.CreateContainerGroupAsync(Request($"a{i}", node: "vn-a"))).ContainerGroupId);
            await cloud.CreateContainerGroupAsync(Request($"b{i}", node: "vn-b"));
        }

        // Each instance has made three changes in the window: created, pending, running.
        time.Advance(TimeSpan.FromSeconds(3));
        var nodeA = new Dictionary<string, string> { [ContainerGroupTags.Node] = "vn-a" };
        var sizes = new List<int>();
        var seen = new List<ContainerGroup>();
        string? next = null;
        do
        {
            var page = await cloud.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(10, 100, next, nodeA));
            sizes.Add(page.Items.Count);
            seen.AddRange(page.Items);
            next = page.NextToken;
        }
        while (next is not null);

        Assert.Equal([100, 100, 100], sizes);
        Assert.True(created.SetEquals(seen.Select(g => g.ContainerGroupId)));
        Assert.Equal(300, seen.Select(g => g.ContainerGroupId).Distinct().Count());
        Assert.All(seen, g => Assert.Equal(ContainerGroupStatus.Running, g.Status));
    }

    [Fact]
    public async Task Changed_since_rejects_bad_limits_and_tokens()
    {
        var cloud = Cloud(SimulatorOptions.ZeroLatency());
        await cloud.CreateContainerGroupAsync(Request("t"));

        foreach (var limit in new[] { 0, 201 })
        {
            var error = await Assert.ThrowsAsync<InvalidSpecException>(() => cloud.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(60, limit)));
            Assert.Equal("InvalidParameter.Limit", error.Error.Code);
        }

        foreach (var token in new[] { "garbage", "s1.", "s1.x.eci-1", "g1.1.eci-1" })
        {
            var error = await Assert.ThrowsAsync<InvalidSpecException>(() => cloud.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(60, 10, token)));
            Assert.Equal("InvalidParameter.NextToken", error.Error.Code);
        }

        await Assert.ThrowsAsync<InvalidSpecException>(() => cloud.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(0)));
    }

    // ---- describe by ids ----

    [Fact]
    public async Task Describe_status_takes_at_most_20_ids_and_omits_unknown_ones()
    {
        var options = SimulatorOptions.ZeroLatency();
        options.QuotaUnlimited = true;
        var cloud = Cloud(options);
        var ids = new List<string>();
        for (var i = 0; i < 21; i++)
        {
            ids.Add((await cloud.CreateContainerGroupAsync(Request($"t{i}"))).ContainerGroupId);
        }

        var error = await Assert.ThrowsAsync<InvalidSpecException>(() => cloud.DescribeContainerGroupStatusAsync(ids));
        Assert.Equal("InvalidParameter.ContainerGroupIds", error.Error.Code);

        var found = await cloud.DescribeContainerGroupStatusAsync([ids[0], "eci-00000000000000000000", ids[1], ids[0]]);
        Assert.Equal([ids[0], ids[1]], found.Select(g => g.ContainerGroupId));
        Assert.Equal(20, (await cloud.DescribeContainerGroupStatusAsync(ids.Take(20).ToList())).Count);
    }

    [Fact]
    public async Task Describe_groups_pages_by_tags_and_limits_ids()
    {
        var options = SimulatorOptions.ZeroLatency();
        options.QuotaUnlimited = true;
        var cloud = Cloud(options);
        var ids = new List<string>();
        for (var i = 0; i < 45; i++)
        {
            ids.Add((await cloud.CreateContainerGroupAsync(Request($"t{i}", node: "vn-a"))).ContainerGroupId);
            time.Advance(TimeSpan.FromMilliseconds(1));
        }

        await cloud.CreateContainerGroupAsync(Request("other", node: "vn-b"));

        var tags = new Dictionary<string, string> { [ContainerGroupTags.Node] = "vn-a" };
        var sizes = new List<int>();
        var seen = new List<string>();
        string? next = null;
        do
        {
            var page = await cloud.DescribeContainerGroupsAsync(new DescribeContainerGroupsQuery(Tags: tags, NextToken: next));
            sizes.Add(page.Items.Count);
            seen.AddRange(page.Items.Select(g => g.ContainerGroupId));
            next = page.NextToken;
        }
        while (next is not null);

        Assert.Equal([20, 20, 5], sizes);
        Assert.Equal(ids, seen);

        var byIds = await cloud.DescribeContainerGroupsAsync(new DescribeContainerGroupsQuery(ids.Take(3).ToList()));
        Assert.Equal(ids.Take(3), byIds.Items.Select(g => g.ContainerGroupId));
        Assert.Null(byIds.NextToken);

        var tooMany = await Assert.ThrowsAsync<InvalidSpecException>(() => cloud.DescribeContainerGroupsAsync(new DescribeContainerGroupsQuery(ids.Take(21).ToList())));
        Assert.Equal("InvalidParameter.ContainerGroupIds", tooMany.Error.Code);
        await Assert.ThrowsAsync<InvalidSpecException>(() => cloud.DescribeContainerGroupsAsync(new DescribeContainerGroupsQuery(Limit: 21)));
        await Assert.ThrowsAsync<InvalidSpecException>(() => cloud.DescribeContainerGroupsAsync(new DescribeContainerGroupsQuery(NextToken: "s1.1.eci-x")));
    }

    // ---- retention and deletion ----

    [Fact]
    public async Task Terminal_instances_are_purged_after_the_retention_and_running_ones_are_kept()
    {
        var cloud = Cloud(SimulatorOptions.ZeroLatency());
        var job = (await cloud.CreateContainerGroupAsync(Request("job", Pod(annotations: new() { [SimulatorAnnotations.RunSeconds] = "10" })))).ContainerGroupId;
        var service = (await cloud.CreateContainerGroupAsync(Request("service"))).ContainerGroupId;

        time.Advance(TimeSpan.FromSeconds(10) + TimeSpan.FromMinutes(59));
        Assert.Equal(2, (await cloud.DescribeContainerGroupStatusAsync([job, service])).Count);

        time.Advance(TimeSpan.FromMinutes(1));
        var left = await cloud.DescribeContainerGroupStatusAsync([job, service]);
        Assert.Equal([service], left.Select(g => g.ContainerGroupId));
        Assert.Equal(ContainerGroupStatus.Running, left[0].Status);
        Assert.Equal(1, cloud.Statistics.InstancesPurged);
        Assert.Equal(1, cloud.Statistics.InstancesAlive);
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => cloud.DescribeContainerGroupEventsAsync(job));

        // The purged instance's token is free again.
        Assert.NotEqual(job, (await cloud.CreateContainerGroupAsync(Request("job"))).ContainerGroupId);
    }

    [Fact]
    public async Task A_deleted_instance_is_not_found_and_its_token_is_freed()
    {
        var cloud = Cloud(SimulatorOptions.ZeroLatency());
        var pod = Pod();
        var id = (await cloud.CreateContainerGroupAsync(Request("t", pod))).ContainerGroupId;
        await cloud.DeleteContainerGroupAsync(id);

        var error = await Assert.ThrowsAsync<InstanceNotFoundException>(() => cloud.DeleteContainerGroupAsync(id));
        Assert.Equal("InvalidContainerGroup.NotFound", error.Error.Code);
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => cloud.DeleteContainerGroupAsync("eci-unknown"));
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => cloud.DescribeContainerGroupEventsAsync(id));
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => cloud.DescribeContainerLogAsync(id, "app"));
        Assert.Empty(await cloud.DescribeContainerGroupStatusAsync([id]));
        Assert.Empty((await cloud.DescribeContainerGroupsAsync(new DescribeContainerGroupsQuery())).Items);

        var again = (await cloud.CreateContainerGroupAsync(Request("t", pod))).ContainerGroupId;
        Assert.NotEqual(id, again);
        Assert.Equal(2, cloud.InstancesCreatedForPod(pod.Metadata.Uid));
        Assert.Equal(0, cloud.Statistics.DuplicateInstances);
        Assert.Equal(1, cloud.Statistics.DeletesSucceeded);
    }

    [Fact]
    public async Task Duplicates_count_pods_with_a_second_instance_while_the_first_is_alive()
    {
        var options = SimulatorOptions.ZeroLatency();
        options.QuotaUnlimited = true;
        var cloud = Cloud(options);
        var dup = Pod();
        await cloud.CreateContainerGroupAsync(Request("dup-1", dup));
        await cloud.CreateContainerGroupAsync(Request("dup-2", dup));
        await cloud.CreateContainerGroupAsync(Request("dup-3", dup));

        var sequential = Pod();
        var first = await cloud.CreateContainerGroupAsync(Request("seq-1", sequential));
        await cloud.DeleteContainerGroupAsync(first.ContainerGroupId);
        await cloud.CreateContainerGroupAsync(Request("seq-2", sequential));

        Assert.Equal(1, cloud.Statistics.DuplicateInstances);
        Assert.Equal(3, cloud.InstancesCreatedForPod(dup.Metadata.Uid));
        Assert.Equal(2, cloud.InstancesCreatedForPod(sequential.Metadata.Uid));
        Assert.Equal(0, cloud.InstancesCreatedForPod("unknown"));
    }

    // ---- faults ----

    [Fact]
    public async Task Transient_errors_follow_the_rate_and_never_create_an_instance()
    {
        var options = SimulatorOptions.ZeroLatency();
        options.QuotaUnlimited = true;
        options.TransientErrorRate = 0.2;
        var cloud = Cloud(options);
        var failures = 0;
        for (var i = 0; i < 5_000; i++)
        {
            try
            {
                await cloud.CreateContainerGroupAsync(Request($"t{i}"));
            }
            catch (TransientProviderException e)
            {
                Assert.Equal("ServiceUnavailable", e.Error.Code);
                Assert.True(e.Error.IsRetryable);
                failures++;
            }
        }

        Assert.InRange(failures, 850, 1_150);
        var stats = cloud.Statistics;
        Assert.Equal(failures, stats.TransientErrorsInjected);
        Assert.Equal(5_000 - failures, stats.InstancesCreated);
        Assert.Equal(5_000 - failures, stats.InstancesAlive);

        // Retrying the failed tokens eventually creates exactly one instance per token.
        for (var i = 0; i < 5_000; i++)
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await cloud.CreateContainerGroupAsync(Request($"t{i}"));
                    break;
                }
                catch (TransientProviderException) when (attempt < 20)
                {
                }
            }
        }

        Assert.Equal(5_000, cloud.Statistics.InstancesAlive);
    }

    [Fact]
    public async Task Random_throttling_applies_even_with_tokens_in_the_bucket()
    {
        var options = SimulatorOptions.ZeroLatency();
        options.QuotaUnlimited = true;
        options.ThrottleRate = 0.5;
        var cloud = Cloud(options);
        var throttled = 0;
        for (var i = 0; i < 1_000; i++)
        {
            try
            {
                await cloud.CreateContainerGroupAsync(Request($"t{i}"));
            }
            catch (ThrottledException e)
            {
                Assert.True(e.Error.RetryAfter > TimeSpan.Zero);
                throttled++;
            }
        }

        Assert.InRange(throttled, 430, 570);
        Assert.Equal(throttled, cloud.Statistics.CreateThrottled);
    }

    [Fact]
    public async Task A_zone_without_stock_falls_over_to_another_zone()
    {
        var options = SimulatorOptions.ZeroLatency();
        options.QuotaUnlimited = true;
        options.Zones = ["cn-hangzhou-a", "cn-hangzhou-b", "cn-hangzhou-c"];
        options.NoStockZones = ["cn-hangzhou-a"];
        var cloud = Cloud(options);
        var zones = new List<string?>();
        for (var i = 0; i < 100; i++)
        {
            zones.Add((await cloud.CreateContainerGroupAsync(Request($"t{i}"))).ZoneId);
        }

        Assert.DoesNotContain("cn-hangzhou-a", zones);
        Assert.Contains("cn-hangzhou-b", zones);
        Assert.Contains("cn-hangzhou-c", zones);
    }

    [Fact]
    public async Task No_stock_in_every_zone_or_for_the_spec_throws_with_zone_and_spec()
    {
        var options = SimulatorOptions.ZeroLatency();
        options.Zones = ["z-a", "z-b"];
        options.NoStockZones = ["z-a", "z-b"];
        var cloud = Cloud(options);
        var noZone = await Assert.ThrowsAsync<NoStockException>(() => cloud.CreateContainerGroupAsync(Request("t")));
        Assert.Equal("OperationDenied.NoStock", noZone.Error.Code);
        Assert.Contains(noZone.Error.Zone, options.Zones);
        Assert.Equal("2-4Gi", noZone.Error.Spec);

        var specOptions = SimulatorOptions.ZeroLatency();
        specOptions.NoStockSpecs = ["2-4Gi"];
        var specCloud = Cloud(specOptions);
        var noSpec = await Assert.ThrowsAsync<NoStockException>(() => specCloud.CreateContainerGroupAsync(Request("t", spec: Spec("2-4Gi"))));
        Assert.Equal(("2-4Gi", "cn-hangzhou-a"), (noSpec.Error.Spec, noSpec.Error.Zone));

        var other = await specCloud.CreateContainerGroupAsync(Request("t", spec: Spec("4-8Gi")));
        Assert.Equal(("4-8Gi", "cn-hangzhou-a"), (other.Spec, other.ZoneId));
        Assert.Equal(1, specCloud.Statistics.NoStockErrors);
    }

    [Fact]
    public async Task The_spec_is_derived_from_container_requests_when_none_is_given()
    {
        var cloud = Cloud(SimulatorOptions.ZeroLatency());
        var pod = Pod();
        pod.Spec.Containers[0].Resources = new V1ResourceRequirements
        {
            Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("1500m"), ["memory"] = new("3Gi") },
        };

        Assert.Equal("2-3Gi", (await cloud.CreateContainerGroupAsync(Request("t", pod))).Spec);
        Assert.Equal("2-4Gi", (await cloud.CreateContainerGroupAsync(Request("u"))).Spec);
    }

    [Fact]
    public async Task Invalid_images_are_a_permanent_invalid_spec()
    {
        var options = SimulatorOptions.ZeroLatency();
        options.InvalidImages = ["nginx:doesnotexist"];
        var cloud = Cloud(options);

        var marker = await Assert.ThrowsAsync<InvalidSpecException>(() => cloud.CreateContainerGroupAsync(Request("a", Pod(image: "registry.local/invalid/app:1"))));
        Assert.Equal("InvalidParameter.Image", marker.Error.Code);
        Assert.Contains("app", marker.Error.Message);
        Assert.Contains("registry.local/invalid/app:1", marker.Error.Message);
        Assert.False(marker.Error.IsRetryable);

        await Assert.ThrowsAsync<InvalidSpecException>(() => cloud.CreateContainerGroupAsync(Request("b", Pod(image: "nginx:doesnotexist"))));
        await Assert.ThrowsAsync<InvalidSpecException>(() => cloud.CreateContainerGroupAsync(Request("c", Pod(image: ""))));
        await cloud.CreateContainerGroupAsync(Request("d", Pod(image: "nginx:1.27")));
        Assert.Equal(1, cloud.Statistics.InstancesAlive);
        Assert.Equal(3, cloud.Statistics.InvalidSpecErrors);
    }

    [Theory]
    [InlineData("OperationDenied.NoStock", ProviderErrorKind.NoStock)]
    [InlineData("InvalidParameter", ProviderErrorKind.InvalidSpec)]
    [InlineData("ServiceUnavailable", ProviderErrorKind.Transient)]
    [InlineData("Throttling.User", ProviderErrorKind.Throttled)]
    [InlineData("ExceededQuota.Instance", ProviderErrorKind.QuotaExceeded)]
    [InlineData("Forbidden.RAM", ProviderErrorKind.Permanent)]
    public async Task The_fail_create_annotation_forces_an_error_on_every_create(string code, ProviderErrorKind kind)
    {
        var cloud = Cloud(SimulatorOptions.ZeroLatency());
        var pod = Pod(annotations: new() { [SimulatorAnnotations.FailCreate] = code });
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var error = await Assert.ThrowsAnyAsync<ProviderException>(() => cloud.CreateContainerGroupAsync(Request("t", pod)));
            Assert.Equal(kind, error.Error.Kind);
            if (kind != ProviderErrorKind.Throttled)
            {
                Assert.Equal(code, error.Error.Code);
            }
        }

        Assert.Equal(0, cloud.Statistics.InstancesAlive);
    }

    [Fact]
    public async Task Malformed_simulator_annotations_are_rejected()
    {
        var cloud = Cloud(SimulatorOptions.ZeroLatency());
        var error = await Assert.ThrowsAsync<InvalidSpecException>(() =>
            cloud.CreateContainerGroupAsync(Request("t", Pod(annotations: new() { [SimulatorAnnotations.RunSeconds] = "soon" }))));
        Assert.Contains(SimulatorAnnotations.RunSeconds, error.Error.Message);
    }

    // ---- determinism ----

    [Fact]
    public async Task The_same_seed_and_tokens_give_the_same_ids_zones_and_durations_in_any_order()
    {
        static SimulatorOptions Options(int seed)
        {
            var options = SimulatorOptions.Realistic();
            options.QuotaUnlimited = true;
            options.Seed = seed;
            options.Zones = ["z-a", "z-b", "z-c"];
            options.TransientErrorRate = 0.1;
            return options;
        }

        var tokens = Enumerable.Range(0, 200).Select(i => $"pod-{i}").ToList();
        var first = await Run(Cloud(Options(7)), tokens);
        var second = await Run(Cloud(Options(7)), Enumerable.Reverse(tokens).ToList());
        var otherSeed = await Run(Cloud(Options(8)), tokens);

        Assert.Equal(first, second);
        Assert.Contains(first, r => r.Retries > 0);
        Assert.Equal(3, first.Select(r => r.Zone).Distinct().Count());
        Assert.Equal(200, first.Select(r => r.Id).Distinct().Count());
        Assert.Empty(first.Select(r => r.Id).Intersect(otherSeed.Select(r => r.Id)));
        Assert.NotEqual(first.Select(r => r.ToRunning), otherSeed.Select(r => r.ToRunning));

        async Task<List<Outcome>> Run(SimulatedCloud cloud, List<string> order)
        {
            var results = new Dictionary<string, (CreateContainerGroupResult Result, int Retries)>();
            foreach (var token in order)
            {
                for (var retries = 0; !results.ContainsKey(token); retries++)
                {
                    try
                    {
                        results[token] = (await cloud.CreateContainerGroupAsync(Request(token)), retries);
                    }
                    catch (TransientProviderException)
                    {
                    }
                }
            }

            time.Advance(TimeSpan.FromMinutes(10));
            var outcomes = new List<Outcome>();
            foreach (var token in tokens)
            {
                var (result, retries) = results[token];
                var group = await Status(cloud, result.ContainerGroupId);
                var events = await cloud.DescribeContainerGroupEventsAsync(result.ContainerGroupId);
                outcomes.Add(new Outcome(
                    result.ContainerGroupId, result.ZoneId, retries,
                    events.Single(e => e.Reason == "Scheduled").FirstTimestamp - group.CreatedAt,
                    group.StatusChangedAt - group.CreatedAt));
            }

            return outcomes;
        }
    }

    private sealed record Outcome(string Id, string? Zone, int Retries, TimeSpan ToPending, TimeSpan ToRunning);

    // ---- events and logs ----

    [Fact]
    public async Task Events_and_logs_follow_the_timeline()
    {
        var cloud = Cloud(FixedLatency(schedule: 1, pending: 2));
        var pod = Pod(annotations: new() { [SimulatorAnnotations.RunSeconds] = "5", [SimulatorAnnotations.ExitCode] = "1" });
        var id = (await cloud.CreateContainerGroupAsync(Request("t", pod))).ContainerGroupId;

        Assert.Empty(await cloud.DescribeContainerGroupEventsAsync(id));
        Assert.Equal(string.Empty, await cloud.DescribeContainerLogAsync(id, "app"));

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(["Scheduled", "Pulling"], (await cloud.DescribeContainerGroupEventsAsync(id)).Select(e => e.Reason));

        time.Advance(TimeSpan.FromSeconds(10));
        var events = await cloud.DescribeContainerGroupEventsAsync(id);
        Assert.Equal(["Scheduled", "Pulling", "Pulled", "Created", "Started", "Failed"], events.Select(e => e.Reason));
        Assert.Equal("Warning", events[^1].Type);
        Assert.Equal(Start.AddSeconds(3), events.Single(e => e.Reason == "Started").FirstTimestamp);

        var log = await cloud.DescribeContainerLogAsync(id, "app");
        Assert.Equal(4, log.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(log, await cloud.DescribeContainerLogAsync(id, "app"));
        var tail = await cloud.DescribeContainerLogAsync(id, "app", tailLines: 1);
        Assert.Contains("exiting with code 1", tail);
        Assert.Single(tail.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        await Assert.ThrowsAsync<InstanceNotFoundException>(() => cloud.DescribeContainerLogAsync(id, "sidecar"));
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => cloud.DescribeContainerGroupEventsAsync("eci-unknown"));
    }

    // ---- options ----

    [Fact]
    public void Options_bind_from_configuration_and_validate()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Simulator:QuotaBurst"] = "50",
            ["Simulator:Zones:0"] = "cn-beijing-a",
            ["Simulator:Zones:1"] = "cn-beijing-b",
            ["Simulator:PendingSeconds:Median"] = "2",
            ["Simulator:PendingSeconds:P99"] = "8",
            ["Simulator:Latency"] = "Zero",
            ["Simulator:TerminalRetention"] = "00:30:00",
        }).Build();

        var services = new ServiceCollection();
        services.AddOptions<SimulatorOptions>().Bind(configuration.GetSection(SimulatorOptions.SectionName)).ValidateDataAnnotations();
        services.AddSingleton<IValidateOptions<SimulatorOptions>, SimulatorOptionsValidator>();
        var options = services.BuildServiceProvider().GetRequiredService<IOptions<SimulatorOptions>>().Value;

        Assert.Equal(50, options.QuotaBurst);
        Assert.Equal(["cn-beijing-a", "cn-beijing-b"], options.EffectiveZones);
        Assert.Equal((2, 8), (options.PendingSeconds.Median, options.PendingSeconds.P99));
        Assert.Equal(SimulatorLatency.Zero, options.Latency);
        Assert.Equal(TimeSpan.FromMinutes(30), options.TerminalRetention);
        Assert.Equal(["cn-hangzhou-a"], new SimulatorOptions().EffectiveZones);

        var validator = new SimulatorOptionsValidator();
        Assert.True(validator.Validate(null, new SimulatorOptions()).Succeeded);
        Assert.True(validator.Validate(null, SimulatorOptions.ZeroLatency()).Succeeded);
        Assert.True(validator.Validate(null, new SimulatorOptions { PendingSeconds = new(5, 3) }).Failed);
        Assert.True(validator.Validate(null, new SimulatorOptions { SchedulingSeconds = new(0, 3) }).Failed);
        Assert.True(validator.Validate(null, new SimulatorOptions { Zones = ["a", "a"] }).Failed);

        var bad = new ServiceCollection();
        bad.AddOptions<SimulatorOptions>().Configure(o => o.TransientErrorRate = 1.5).ValidateDataAnnotations();
        Assert.Throws<OptionsValidationException>(() => bad.BuildServiceProvider().GetRequiredService<IOptions<SimulatorOptions>>().Value);
    }

    // ---- scale ----

    [Fact]
    public async Task Fifty_thousand_instances_can_be_created_and_scanned()
    {
        var options = SimulatorOptions.ZeroLatency();
        options.QuotaUnlimited = true;
        var cloud = Cloud(options);
        var tags = new Dictionary<string, string>[2];
        for (var n = 0; n < 2; n++)
        {
            tags[n] = new Dictionary<string, string> { [ContainerGroupTags.Node] = $"vn-{n}" };
        }

        var pod = Pod();
        for (var i = 0; i < 50_000; i++)
        {
            await cloud.CreateContainerGroupAsync(new CreateContainerGroupRequest($"t{i}", $"p{i}", pod, null, tags[i % 2]));
            if (i % 1_000 == 0)
            {
                time.Advance(TimeSpan.FromMilliseconds(20));
            }
        }

        Assert.Equal(50_000, cloud.Statistics.InstancesAlive);

        var seen = new HashSet<string>();
        var pages = 0;
        string? next = null;
        do
        {
            var page = await cloud.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(60, 200, next, tags[1]));
            foreach (var group in page.Items)
            {
                Assert.True(seen.Add(group.ContainerGroupId));
            }

            pages++;
            next = page.NextToken;
        }
        while (next is not null);

        Assert.Equal(25_000, seen.Count);
        Assert.Equal(125, pages);

        // A window shorter than the time since the burst sees only what came after it.
        time.Advance(TimeSpan.FromSeconds(1.5));
        await cloud.CreateContainerGroupAsync(Request("latest"));
        var latest = await cloud.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(1));
        Assert.Single(latest.Items);
    }

    // ---- helpers ----

    private SimulatedCloud Cloud(SimulatorOptions options) => new(options, time);

    private static SimulatorOptions FixedLatency(double schedule, double pending)
    {
        var options = SimulatorOptions.Realistic();
        options.SchedulingSeconds = new LatencyDistribution(schedule, schedule);
        options.PendingSeconds = new LatencyDistribution(pending, pending);
        return options;
    }

    private static InstanceSpec Spec(string text) => InstanceSpec.TryParse(text, out _)!;

    private static V1Pod Pod(Dictionary<string, string>? annotations = null, string image = "nginx") => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = "pod-" + Guid.NewGuid().ToString("N")[..8],
            NamespaceProperty = "default",
            Uid = Guid.NewGuid().ToString(),
            Annotations = annotations,
        },
        Spec = new V1PodSpec { Containers = [new V1Container { Name = "app", Image = image }] },
    };

    private static CreateContainerGroupRequest Request(string token, V1Pod? pod = null, InstanceSpec? spec = null, string node = "vn-0")
    {
        pod ??= Pod();
        var tags = new Dictionary<string, string>
        {
            [ContainerGroupTags.Node] = node,
            [ContainerGroupTags.Namespace] = pod.Metadata.NamespaceProperty,
            [ContainerGroupTags.PodName] = pod.Metadata.Name,
            [ContainerGroupTags.PodUid] = pod.Metadata.Uid,
        };
        return new CreateContainerGroupRequest(token, pod.Metadata.Name, pod, spec, tags);
    }

    private static async Task<ContainerGroup> Status(SimulatedCloud cloud, string id) =>
        Assert.Single(await cloud.DescribeContainerGroupStatusAsync([id]));

    private static async Task<int> CountRunning(SimulatedCloud cloud, List<string> ids)
    {
        var running = 0;
        foreach (var chunk in ids.Chunk(IInstanceProvider.MaxStatusIds))
        {
            running += (await cloud.DescribeContainerGroupStatusAsync(chunk)).Count(g => g.Status == ContainerGroupStatus.Running);
        }

        return running;
    }

    private async Task<int> CreateUntilThrottled(SimulatedCloud cloud, Func<string> nextToken)
    {
        for (var created = 0; ; created++)
        {
            try
            {
                await cloud.CreateContainerGroupAsync(Request(nextToken()));
            }
            catch (ThrottledException)
            {
                return created;
            }
        }
    }
}

using System.Globalization;
using System.Runtime.InteropServices;
using k8s.Models;

namespace VNodeMesh.Silo.Providers.Simulator;

/// <summary>A consistent snapshot of what the simulated cloud has seen (the burst report's raw data).</summary>
public sealed record SimulatorStatistics(
    long CreateCalls,
    long InstancesCreated,
    long CreateReplays,
    long CreateThrottled,
    long CreateFailed,
    long DescribeStatusCalls,
    long DescribeChangedSinceCalls,
    long DescribeGroupsCalls,
    long DescribeEventsCalls,
    long DeleteCalls,
    long DeletesSucceeded,
    long DeleteThrottled,
    long TransientErrorsInjected,
    long NoStockErrors,
    long InvalidSpecErrors,
    int InstancesAlive,
    long InstancesPurged,
    DateTimeOffset? FirstCreateCallAt,
    DateTimeOffset? LastSuccessfulCreateAt,
    int DuplicateInstances);

/// <summary>
/// An in-memory cloud with ECI semantics: idempotent creates, a shared create/delete token bucket,
/// lazily computed status progression (no timer per instance), paged change queries, retention of
/// terminal instances and seeded fault injection. Thread-safe; every random decision is a hash of
/// the seed and the request, so a run is reproducible whatever the call interleaving.
/// </summary>
public sealed class SimulatedCloud : IInstanceProvider
{
    public const string ProviderName = "simulator";

    private const string ChangedTokenPrefix = "s1.";
    private const string GroupsTokenPrefix = "g1.";
    private const string DefaultSpec = "2-4Gi";

    private static readonly IReadOnlyDictionary<string, string> EmptyTags = new Dictionary<string, string>();
    private static readonly double[] CpuLadder = [0.25, 0.5, 1, 2, 4, 8, 12, 16, 24, 32, 52, 64];
    private static readonly double[] MemoryLadder = [0.5, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512];

    private readonly SimulatorOptions options;
    private readonly TimeProvider time;
    private readonly IReadOnlyList<string> zones;
    private readonly HashSet<string> noStockZones;
    private readonly HashSet<string> noStockSpecs;
    private readonly HashSet<string> invalidImages;
    private readonly long retentionTicks;
    private readonly TimeSpan randomThrottleRetryAfter;

    private readonly Lock gate = new();
    private readonly Dictionary<string, Instance> instances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TokenState> tokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PodRecord> pods = new(StringComparer.Ordinal);
    private readonly PriorityQueue<Instance, long> purgeQueue = new();
    // Every status change of every instance, past or scheduled, in page order: a changed-since page reads the
    // changes of its window from its cursor on, not every instance (a node polls every second, a page at a time).
    private readonly SortedSet<PageKey> changes = new();

    private double bucketTokens;
    private long bucketTicks;
    private long ipCounter;

    private long createCalls, instancesCreated, createReplays, createThrottled, createFailed;
    private long describeStatusCalls, describeChangedCalls, describeGroupsCalls, describeEventsCalls;
    private long deleteCalls, deletesSucceeded, deleteThrottled;
    private long transientErrors, noStockErrors, invalidSpecErrors, instancesPurged;
    private long firstCreateCallTicks = -1, lastCreateTicks = -1;
    private int duplicatePods;

    public SimulatedCloud(IOptions<SimulatorOptions> options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        this.options = options.Value;
        time = timeProvider;

        zones = [.. this.options.EffectiveZones];
        noStockZones = new(this.options.NoStockZones, StringComparer.Ordinal);
        noStockSpecs = new(this.options.NoStockSpecs, StringComparer.Ordinal);
        invalidImages = new(this.options.InvalidImages, StringComparer.Ordinal);
        retentionTicks = this.options.TerminalRetention.Ticks;
        randomThrottleRetryAfter = TimeSpan.FromSeconds(1 / this.options.QuotaPerSecond);

        bucketTokens = this.options.QuotaBurst;
        bucketTicks = NowTicks();
    }

    public SimulatedCloud(SimulatorOptions options, TimeProvider? timeProvider = null)
        : this(Options.Create(options), timeProvider ?? TimeProvider.System)
    {
    }

    public string Name => ProviderName;

    /// <summary>A snapshot of the counters, taken under the lock.</summary>
    public SimulatorStatistics Statistics
    {
        get
        {
            lock (gate)
            {
                return new SimulatorStatistics(
                    createCalls, instancesCreated, createReplays, createThrottled, createFailed,
                    describeStatusCalls, describeChangedCalls, describeGroupsCalls, describeEventsCalls,
                    deleteCalls, deletesSucceeded, deleteThrottled,
                    transientErrors, noStockErrors, invalidSpecErrors,
                    instances.Count, instancesPurged,
                    firstCreateCallTicks < 0 ? null : At(firstCreateCallTicks),
                    lastCreateTicks < 0 ? null : At(lastCreateTicks),
                    duplicatePods);
            }
        }
    }

    /// <summary>
    /// Starts the counters of <see cref="Statistics"/> again from zero, so that they count from here on (a load
    /// test's measured phase after its warm-up). Instances, and what each pod was created, are kept.
    /// </summary>
    public void RestartStatistics()
    {
        lock (gate)
        {
            createCalls = instancesCreated = createReplays = createThrottled = createFailed = 0;
            describeStatusCalls = describeChangedCalls = describeGroupsCalls = describeEventsCalls = 0;
            deleteCalls = deletesSucceeded = deleteThrottled = 0;
            transientErrors = noStockErrors = invalidSpecErrors = instancesPurged = 0;
            firstCreateCallTicks = lastCreateTicks = -1;
            duplicatePods = 0;
        }
    }

    /// <summary>How many instances were ever created for the pod UID (tag <see cref="ContainerGroupTags.PodUid"/>).</summary>
    public int InstancesCreatedForPod(string podUid)
    {
        lock (gate)
        {
            return pods.TryGetValue(podUid, out var record) ? record.Created : 0;
        }
    }

    public Task<CreateContainerGroupResult> CreateContainerGroupAsync(CreateContainerGroupRequest request, CancellationToken cancellationToken = default) =>
        Run(() => Create(request), cancellationToken);

    public Task<IReadOnlyList<ContainerGroup>> DescribeContainerGroupStatusAsync(IReadOnlyList<string> containerGroupIds, CancellationToken cancellationToken = default) =>
        Run(() => DescribeStatus(containerGroupIds), cancellationToken);

    public Task<ContainerGroupPage> DescribeChangedContainerGroupStatusAsync(ChangedSinceQuery query, CancellationToken cancellationToken = default) =>
        Run(() => DescribeChanged(query), cancellationToken);

    public Task<ContainerGroupPage> DescribeContainerGroupsAsync(DescribeContainerGroupsQuery query, CancellationToken cancellationToken = default) =>
        Run(() => DescribeGroups(query), cancellationToken);

    /// <summary>Completes once the instance is gone: after its containers stopped, within the pod's grace period.</summary>
    public async Task DeleteContainerGroupAsync(string containerGroupId, CancellationToken cancellationToken = default)
    {
        var stopping = await Run(() => Delete(containerGroupId), cancellationToken);
        if (stopping > TimeSpan.Zero)
        {
            await Task.Delay(stopping, time, cancellationToken);
            lock (gate)
            {
                if (instances.TryGetValue(containerGroupId, out var instance))
                {
                    Remove(instance);
                    deletesSucceeded++;
                }
            }
        }
    }

    public Task<IReadOnlyList<ContainerGroupEvent>> DescribeContainerGroupEventsAsync(string containerGroupId, CancellationToken cancellationToken = default) =>
        Run(() => Events(containerGroupId), cancellationToken);

    public Task<string> DescribeContainerLogAsync(string containerGroupId, string containerName, int? tailLines = null, CancellationToken cancellationToken = default) =>
        Run(() => Log(containerGroupId, containerName, tailLines), cancellationToken);

    // Failures surface as faulted tasks, as from a real client, never as synchronous throws.
    private static Task<T> Run<T>(Func<T> body, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(cancellationToken);
        }

        try
        {
            return Task.FromResult(body());
        }
        catch (Exception e)
        {
            return Task.FromException<T>(e);
        }
    }

    private CreateContainerGroupResult Create(CreateContainerGroupRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var requestId = Guid.NewGuid().ToString();
        var token = request.ClientToken;
        // Parsing the pod needs no lock; its verdict is applied in ECI's order below.
        var plan = PodPlan.From(request, invalidImages);
        var now = NowTicks();

        lock (gate)
        {
            createCalls++;
            if (firstCreateCallTicks < 0)
            {
                firstCreateCallTicks = now;
            }

            Purge(now);
            if (!TryTakeToken(now, out var retryAfter))
            {
                createThrottled++;
                throw Throttled(retryAfter, requestId);
            }

            if (string.IsNullOrEmpty(token))
            {
                createFailed++;
                invalidSpecErrors++;
                throw new InvalidSpecException("MissingParameter.ClientToken", "The simulator needs a ClientToken to keep creation idempotent.", requestId);
            }

            ref var state = ref CollectionsMarshal.GetValueRefOrAddDefault(tokens, token, out _);
            var attempt = ++state.Attempts;
            if (Chance(options.ThrottleRate, token, attempt, Purpose.Throttle))
            {
                createThrottled++;
                throw Throttled(randomThrottleRetryAfter, requestId);
            }

            if (state.Current is { } existing)
            {
                createReplays++;
                return new CreateContainerGroupResult(existing.Id, requestId, existing.Zone, existing.Spec);
            }

            var firstZone = zones[(int)(Hash(token, 0, Purpose.Zone) % (ulong)zones.Count)];
            if (plan.FailCreate is { } forced)
            {
                throw Count(Forced(forced, firstZone, plan.Spec, requestId));
            }

            if (Chance(options.TransientErrorRate, token, attempt, Purpose.Transient))
            {
                throw Count(new TransientProviderException("ServiceUnavailable", "The request has failed due to a temporary failure of the server (injected).", requestId));
            }

            if (plan.InvalidCode is { } invalidCode)
            {
                throw Count(new InvalidSpecException(invalidCode, plan.InvalidMessage!, requestId));
            }

            if (noStockSpecs.Contains(plan.Spec))
            {
                throw Count(new NoStockException("OperationDenied.NoStock", $"Spec {plan.Spec} is out of stock in region {options.Region}.", firstZone, plan.Spec, requestId));
            }

            var zone = PickZone(firstZone);
            if (zone is null)
            {
                throw Count(new NoStockException("OperationDenied.NoStock", $"The resource is out of stock in zone {firstZone} and every other zone of {options.Region}.", firstZone, plan.Spec, requestId));
            }

            var instance = NewInstance(request, plan, zone, state.Generation++, now);
            state.Current = instance;
            return new CreateContainerGroupResult(instance.Id, requestId, instance.Zone, instance.Spec);
        }
    }

    // Caller holds the lock. Throttling is counted apart from failures, as the report shows them apart.
    private ProviderException Count(ProviderException error)
    {
        if (error.Error.Kind == ProviderErrorKind.Throttled)
        {
            createThrottled++;
            return error;
        }

        createFailed++;
        switch (error.Error.Kind)
        {
            case ProviderErrorKind.Transient: transientErrors++; break;
            case ProviderErrorKind.NoStock: noStockErrors++; break;
            case ProviderErrorKind.InvalidSpec: invalidSpecErrors++; break;
        }

        return error;
    }

    private ThrottledException Throttled(TimeSpan retryAfter, string requestId) =>
        new("Throttling.User", "Request was denied due to user flow control.", retryAfter, requestId);

    /// <summary>Maps a forced ECI error code to the error kind its prefix implies.</summary>
    private ProviderException Forced(string code, string zone, string spec, string requestId)
    {
        var message = $"Forced by annotation {SimulatorAnnotations.FailCreate}.";
        if (code.StartsWith("Throttling", StringComparison.Ordinal))
        {
            return Throttled(randomThrottleRetryAfter, requestId);
        }

        if (code.Contains("Stock", StringComparison.OrdinalIgnoreCase))
        {
            return new NoStockException(code, message, zone, spec, requestId);
        }

        if (code.Contains("Quota", StringComparison.OrdinalIgnoreCase))
        {
            return new QuotaExceededException(code, message, requestId);
        }

        if (code.StartsWith("Forbidden", StringComparison.Ordinal) || code.StartsWith("InvalidAccountStatus", StringComparison.Ordinal)
            || code.Contains("Arrear", StringComparison.OrdinalIgnoreCase))
        {
            return new PermanentProviderException(code, message, requestId);
        }

        if (code.StartsWith("Invalid", StringComparison.Ordinal) || code.StartsWith("MissingParameter", StringComparison.Ordinal))
        {
            return new InvalidSpecException(code, message, requestId);
        }

        return new TransientProviderException(code, message, requestId);
    }

    private string? PickZone(string first)
    {
        var start = IndexOf(zones, first);
        for (var i = 0; i < zones.Count; i++)
        {
            var zone = zones[(start + i) % zones.Count];
            if (!noStockZones.Contains(zone))
            {
                return zone;
            }
        }

        return null;
    }

    private static int IndexOf(IReadOnlyList<string> list, string value)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] == value)
            {
                return i;
            }
        }

        return 0;
    }

    private Instance NewInstance(CreateContainerGroupRequest request, PodPlan plan, string zone, int generation, long now)
    {
        var token = request.ClientToken;
        var id = NewId(token, generation);
        var pendingAt = now + Sample(options.SchedulingSeconds, token, generation, Purpose.Scheduling);
        var runningAt = pendingAt + Sample(options.PendingSeconds, token, generation, Purpose.Pending);
        var finishedAt = plan.RunSeconds is { } run ? runningAt + (long)Math.Round(run * TimeSpan.TicksPerSecond) : long.MaxValue;
        var tags = request.Tags ?? EmptyTags;
        var podUid = tags.TryGetValue(ContainerGroupTags.PodUid, out var uid) ? uid : request.Pod?.Metadata?.Uid;

        var instance = new Instance(id, token, podUid, tags, plan.ContainerNames, plan.Images, plan.Spec, zone, NextIp())
        {
            CreatedAt = now,
            PendingAt = pendingAt,
            RunningAt = runningAt,
            FinishedAt = finishedAt,
            ExitCode = plan.ExitCode,
            StopSeconds = plan.StopSeconds,
        };
        instances.Add(id, instance);
        TrackChanges(instance, add: true);
        if (finishedAt != long.MaxValue)
        {
            purgeQueue.Enqueue(instance, finishedAt + retentionTicks);
        }

        if (podUid is not null)
        {
            ref var record = ref CollectionsMarshal.GetValueRefOrAddDefault(pods, podUid, out _);
            if (record.Alive > 0 && !record.Duplicate)
            {
                record.Duplicate = true;
                duplicatePods++;
            }

            record.Alive++;
            record.Created++;
        }

        instancesCreated++;
        lastCreateTicks = now;
        return instance;
    }

    private string NewId(string token, int generation)
    {
        for (var salt = 0; ; salt++)
        {
            var high = Hash(token, generation, Purpose.Id + (ulong)salt);
            var low = Mix(high ^ Purpose.Id);
            var id = string.Create(24, (high, low), static (span, parts) =>
            {
                "eci-".CopyTo(span);
                parts.high.TryFormat(span[4..20], out _, "x16", CultureInfo.InvariantCulture);
                ((ushort)parts.low).TryFormat(span[20..], out _, "x4", CultureInfo.InvariantCulture);
            });
            if (!instances.ContainsKey(id))
            {
                return id;
            }
        }
    }

    private string NextIp()
    {
        // 10.a.b.c with c in 1..253: unique for the first 16 million instances.
        var n = ipCounter++;
        var host = n % 253 + 1;
        var rest = n / 253;
        return string.Create(CultureInfo.InvariantCulture, $"10.{rest / 256 % 256}.{rest % 256}.{host}");
    }

    private IReadOnlyList<ContainerGroup> DescribeStatus(IReadOnlyList<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count > IInstanceProvider.MaxStatusIds)
        {
            throw new InvalidSpecException("InvalidParameter.ContainerGroupIds", $"At most {IInstanceProvider.MaxStatusIds} container group ids per call, got {ids.Count}.");
        }

        var now = NowTicks();
        var result = new List<ContainerGroup>(ids.Count);
        lock (gate)
        {
            describeStatusCalls++;
            Purge(now);
            for (var i = 0; i < ids.Count; i++)
            {
                if (ids[i] is { } id && instances.TryGetValue(id, out var instance) && !AppearsBefore(ids, i, id))
                {
                    result.Add(ToGroup(instance, now));
                }
            }
        }

        return result;
    }

    private static bool AppearsBefore(IReadOnlyList<string> ids, int index, string id)
    {
        for (var j = 0; j < index; j++)
        {
            if (ids[j] == id)
            {
                return true;
            }
        }

        return false;
    }

    private ContainerGroupPage DescribeChanged(ChangedSinceQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Limit is < 1 or > ChangedSinceQuery.MaxLimit)
        {
            throw new InvalidSpecException("InvalidParameter.Limit", $"Limit must be between 1 and {ChangedSinceQuery.MaxLimit}, got {query.Limit}.");
        }

        if (query.SinceSeconds < 1)
        {
            throw new InvalidSpecException("InvalidParameter.SinceSecond", $"SinceSecond must be positive, got {query.SinceSeconds}.");
        }

        var after = ParseToken(query.NextToken, ChangedTokenPrefix);
        var tags = TagFilter(query.Tags);
        var now = NowTicks();
        var windowStart = now - Math.Min(now, query.SinceSeconds * TimeSpan.TicksPerSecond);
        var page = new PageCollector(query.Limit, after);

        lock (gate)
        {
            describeStatusCalls++;
            describeChangedCalls++;
            Purge(now);
            var from = after is { } last && last.Ticks >= windowStart ? last : new PageKey(windowStart, "");
            var untilNow = new PageKey(now + 1, ""); // before every change after now
            if (from.CompareTo(untilNow) < 0)
            {
                var offered = 0;
                foreach (var change in changes.GetViewBetween(from, untilNow))
                {
                    if (after is { } cursor && change.CompareTo(cursor) <= 0)
                    {
                        continue;
                    }

                    var instance = instances[change.Id];
                    // Listed once, at its latest change: an earlier one in the window is superseded.
                    instance.StatusAt(now, out var changedAt);
                    if (changedAt == change.Ticks && Matches(instance, tags))
                    {
                        page.Offer(instance, change);
                        if (++offered > query.Limit)
                        {
                            break; // in page order: the rest are after this page
                        }
                    }
                }
            }

            return page.ToPage(ChangedTokenPrefix, instance => ToGroup(instance, now));
        }
    }

    private ContainerGroupPage DescribeGroups(DescribeContainerGroupsQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Limit is < 1 or > DescribeContainerGroupsQuery.MaxLimit)
        {
            throw new InvalidSpecException("InvalidParameter.Limit", $"Limit must be between 1 and {DescribeContainerGroupsQuery.MaxLimit}, got {query.Limit}.");
        }

        var ids = query.ContainerGroupIds;
        if (ids is { Count: > DescribeContainerGroupsQuery.MaxLimit })
        {
            throw new InvalidSpecException("InvalidParameter.ContainerGroupIds", $"At most {DescribeContainerGroupsQuery.MaxLimit} container group ids per call, got {ids.Count}.");
        }

        var after = ParseToken(query.NextToken, GroupsTokenPrefix);
        var tags = TagFilter(query.Tags);
        var now = NowTicks();
        var page = new PageCollector(query.Limit, after);

        lock (gate)
        {
            describeGroupsCalls++;
            Purge(now);
            if (ids is { Count: > 0 })
            {
                for (var i = 0; i < ids.Count; i++)
                {
                    if (ids[i] is { } id && instances.TryGetValue(id, out var instance) && !AppearsBefore(ids, i, id) && Matches(instance, tags))
                    {
                        page.Offer(instance, new PageKey(instance.CreatedAt, instance.Id));
                    }
                }
            }
            else
            {
                foreach (var instance in instances.Values)
                {
                    if (Matches(instance, tags))
                    {
                        page.Offer(instance, new PageKey(instance.CreatedAt, instance.Id));
                    }
                }
            }

            return page.ToPage(GroupsTokenPrefix, instance => ToGroup(instance, now));
        }
    }

    /// <returns>How long the instance's containers take to stop before it is gone.</returns>
    private TimeSpan Delete(string containerGroupId)
    {
        ArgumentNullException.ThrowIfNull(containerGroupId);
        var requestId = Guid.NewGuid().ToString();
        var now = NowTicks();
        lock (gate)
        {
            deleteCalls++;
            Purge(now);
            if (!TryTakeToken(now, out var retryAfter))
            {
                deleteThrottled++;
                throw Throttled(retryAfter, requestId);
            }

            if (!instances.TryGetValue(containerGroupId, out var instance))
            {
                throw NotFound(containerGroupId, requestId);
            }

            var attempt = ++instance.DeleteAttempts;
            if (Chance(options.ThrottleRate, containerGroupId, attempt, Purpose.DeleteThrottle))
            {
                deleteThrottled++;
                throw Throttled(randomThrottleRetryAfter, requestId);
            }

            if (Chance(options.TransientErrorRate, containerGroupId, attempt, Purpose.DeleteTransient))
            {
                transientErrors++;
                throw new TransientProviderException("ServiceUnavailable", "The request has failed due to a temporary failure of the server (injected).", requestId);
            }

            if (instance.StopSeconds > 0 && instance.StatusAt(now, out _) is ContainerGroupStatus.Running)
            {
                return TimeSpan.FromSeconds(instance.StopSeconds); // removed once its containers have stopped
            }

            Remove(instance);
            deletesSucceeded++;
            return TimeSpan.Zero;
        }
    }

    private IReadOnlyList<ContainerGroupEvent> Events(string containerGroupId)
    {
        ArgumentNullException.ThrowIfNull(containerGroupId);
        var now = NowTicks();
        lock (gate)
        {
            describeEventsCalls++;
            Purge(now);
            if (!instances.TryGetValue(containerGroupId, out var instance))
            {
                throw NotFound(containerGroupId, null);
            }

            var events = new List<ContainerGroupEvent>();
            void Add(long at, string type, string reason, string message)
            {
                if (at <= now)
                {
                    events.Add(new ContainerGroupEvent(At(at), At(at), 1, type, reason, message));
                }
            }

            Add(instance.PendingAt, "Normal", "Scheduled", $"Successfully assigned {instance.Id} to zone {instance.Zone}");
            for (var i = 0; i < instance.ContainerNames.Length; i++)
            {
                var (name, image) = (instance.ContainerNames[i], instance.Images[i]);
                Add(instance.PendingAt, "Normal", "Pulling", $"Pulling image \"{image}\"");
                Add(instance.RunningAt, "Normal", "Pulled", $"Successfully pulled image \"{image}\"");
                Add(instance.RunningAt, "Normal", "Created", $"Created container {name}");
                Add(instance.RunningAt, "Normal", "Started", $"Started container {name}");
                if (instance.FinishedAt != long.MaxValue)
                {
                    if (instance.ExitCode == 0)
                    {
                        Add(instance.FinishedAt, "Normal", "Completed", $"Container {name} completed with exit code 0");
                    }
                    else
                    {
                        Add(instance.FinishedAt, "Warning", "Failed", $"Container {name} exited with code {instance.ExitCode}");
                    }
                }
            }

            return events;
        }
    }

    private string Log(string containerGroupId, string containerName, int? tailLines)
    {
        ArgumentNullException.ThrowIfNull(containerGroupId);
        ArgumentNullException.ThrowIfNull(containerName);
        var now = NowTicks();
        lock (gate)
        {
            Purge(now);
            if (!instances.TryGetValue(containerGroupId, out var instance))
            {
                throw NotFound(containerGroupId, null);
            }

            var index = Array.IndexOf(instance.ContainerNames, containerName);
            if (index < 0)
            {
                throw new InstanceNotFoundException("InvalidContainerName.NotFound", $"Container {containerName} does not exist in container group {containerGroupId}.");
            }

            var lines = new List<string>(4);
            void Add(long at, string text)
            {
                if (at <= now)
                {
                    lines.Add(string.Create(CultureInfo.InvariantCulture, $"{At(at):O} {text}"));
                }
            }

            Add(instance.RunningAt, $"[{containerName}] starting image {instance.Images[index]} on {instance.Id} ({instance.Zone}, {instance.Spec})");
            Add(instance.RunningAt, $"[{containerName}] ready");
            Add(instance.RunningAt + TimeSpan.TicksPerSecond, $"[{containerName}] simulated workload running");
            if (instance.FinishedAt != long.MaxValue)
            {
                Add(instance.FinishedAt, $"[{containerName}] exiting with code {instance.ExitCode}");
            }

            var skip = tailLines is { } tail ? Math.Max(0, lines.Count - Math.Max(0, tail)) : 0;
            return lines.Count == skip ? string.Empty : string.Join('\n', lines.Skip(skip)) + "\n";
        }
    }

    private static InstanceNotFoundException NotFound(string id, string? requestId) =>
        new("InvalidContainerGroup.NotFound", $"The specified container group {id} does not exist.", requestId);

    // Caller holds the lock.
    private bool TryTakeToken(long now, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (options.QuotaUnlimited)
        {
            return true;
        }

        var rate = options.QuotaPerSecond;
        if (now > bucketTicks)
        {
            bucketTokens = Math.Min(options.QuotaBurst, bucketTokens + (now - bucketTicks) * rate / TimeSpan.TicksPerSecond);
            bucketTicks = now;
        }

        // The epsilon absorbs rounding in the refill so that waiting exactly retryAfter is enough.
        if (bucketTokens >= 1 - 1e-9)
        {
            bucketTokens = Math.Max(0, bucketTokens - 1);
            return true;
        }

        var ticks = (long)Math.Ceiling((1 - bucketTokens) / rate * TimeSpan.TicksPerSecond);
        retryAfter = TimeSpan.FromTicks(Math.Max(ticks, TimeSpan.TicksPerMillisecond));
        return false;
    }

    // Caller holds the lock. The queue is ordered by purge time, so each call pays only for what expired.
    private void Purge(long now)
    {
        while (purgeQueue.TryPeek(out var instance, out var purgeAt) && purgeAt <= now)
        {
            purgeQueue.Dequeue();
            if (!instance.Removed)
            {
                Remove(instance);
                instancesPurged++;
            }
        }
    }

    // Caller holds the lock. Frees the client token, as ECI does once an instance is gone.
    private void Remove(Instance instance)
    {
        instance.Removed = true;
        instances.Remove(instance.Id);
        TrackChanges(instance, add: false);
        ref var state = ref CollectionsMarshal.GetValueRefOrNullRef(tokens, instance.ClientToken);
        if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref state) && ReferenceEquals(state.Current, instance))
        {
            state.Current = null;
        }

        if (instance.PodUid is not null)
        {
            ref var record = ref CollectionsMarshal.GetValueRefOrNullRef(pods, instance.PodUid);
            if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref record))
            {
                record.Alive--;
            }
        }
    }

    // Caller holds the lock.
    private void TrackChanges(Instance instance, bool add)
    {
        foreach (var at in (ReadOnlySpan<long>)[instance.CreatedAt, instance.PendingAt, instance.RunningAt, instance.FinishedAt])
        {
            if (at == long.MaxValue)
            {
                continue;
            }

            if (add)
            {
                changes.Add(new PageKey(at, instance.Id));
            }
            else
            {
                changes.Remove(new PageKey(at, instance.Id));
            }
        }
    }

    private ContainerGroup ToGroup(Instance instance, long now)
    {
        var status = instance.StatusAt(now, out var changedAt);
        var containers = new ContainerState[instance.ContainerNames.Length];
        string? reason = null, message = null;
        for (var i = 0; i < containers.Length; i++)
        {
            var name = instance.ContainerNames[i];
            containers[i] = status switch
            {
                ContainerGroupStatus.Running => new ContainerState(name, ContainerStateKind.Running, true, 0, StartedAt: At(instance.RunningAt)),
                ContainerGroupStatus.Succeeded or ContainerGroupStatus.Failed => new ContainerState(
                    name, ContainerStateKind.Terminated, false, 0, instance.ExitCode, instance.ExitCode == 0 ? "Completed" : "Error",
                    At(instance.RunningAt), At(instance.FinishedAt)),
                _ => new ContainerState(name, ContainerStateKind.Waiting, false, 0, Reason: "ContainerCreating"),
            };
        }

        if (status == ContainerGroupStatus.Succeeded)
        {
            reason = "Completed";
        }
        else if (status == ContainerGroupStatus.Failed)
        {
            reason = "Error";
            message = $"Container {instance.ContainerNames[0]} exited with code {instance.ExitCode}";
        }

        // ECI assigns the ENI (and so the IP) once the instance is scheduled.
        var ip = status == ContainerGroupStatus.Scheduling ? null : instance.Ip;
        return new ContainerGroup(instance.Id, status, instance.Tags, containers, At(instance.CreatedAt), At(changedAt),
            instance.Zone, instance.Spec, ip, reason, message);
    }

    private static KeyValuePair<string, string>[]? TagFilter(IReadOnlyDictionary<string, string>? tags) =>
        tags is null || tags.Count == 0 ? null : [.. tags];

    // An array, not the dictionary: enumerating an interface would allocate per scanned instance.
    private static bool Matches(Instance instance, KeyValuePair<string, string>[]? tags)
    {
        if (tags is null)
        {
            return true;
        }

        foreach (var (key, value) in tags)
        {
            if (!instance.Tags.TryGetValue(key, out var actual) || !string.Equals(actual, value, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private static PageKey? ParseToken(string? token, string prefix)
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }

        if (token.StartsWith(prefix, StringComparison.Ordinal))
        {
            var rest = token.AsSpan(prefix.Length);
            var dot = rest.IndexOf('.');
            if (dot > 0 && dot < rest.Length - 1
                && long.TryParse(rest[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks))
            {
                return new PageKey(ticks, rest[(dot + 1)..].ToString());
            }
        }

        throw new InvalidSpecException("InvalidParameter.NextToken", "The NextToken is not one this API returned.");
    }

    private long Sample(LatencyDistribution latency, string token, int generation, ulong purpose)
    {
        if (options.Latency == SimulatorLatency.Zero || latency.Median <= 0)
        {
            return 0;
        }

        // Log-normal from median and p99: sigma = ln(p99/median) / z(0.99); z clamped to keep tails finite.
        var sigma = Math.Log(latency.P99 / latency.Median) / 2.3263478740408408;
        var u1 = (Hash(token, generation, purpose) >> 11) + 1.0;
        var u2 = Hash(token, generation, purpose + 1) >> 11;
        var z = Math.Sqrt(-2 * Math.Log(u1 / (1UL << 53))) * Math.Cos(2 * Math.PI * u2 / (1UL << 53));
        var seconds = latency.Median * Math.Exp(sigma * Math.Clamp(z, -4, 4));
        return (long)Math.Round(seconds * TimeSpan.TicksPerSecond);
    }

    private bool Chance(double rate, string key, int attempt, ulong purpose) =>
        rate > 0 && (rate >= 1 || (Hash(key, attempt, purpose) >> 11) * (1.0 / (1UL << 53)) < rate);

    // FNV-1a over the key, then SplitMix64 finalisation: stable across processes, unlike string.GetHashCode.
    private ulong Hash(string key, int n, ulong purpose)
    {
        var h = 0xcbf29ce484222325UL ^ Mix((ulong)(uint)options.Seed + 0x9E3779B97F4A7C15UL);
        foreach (var c in key)
        {
            h = (h ^ c) * 0x100000001b3UL;
        }

        return Mix(Mix(h ^ ((ulong)(uint)n * 0xBF58476D1CE4E5B9UL)) ^ purpose);
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private long NowTicks() => time.GetUtcNow().UtcTicks;

    private static DateTimeOffset At(long ticks) => new(ticks, TimeSpan.Zero);

    private static class Purpose
    {
        public const ulong Throttle = 0x1000;
        public const ulong Transient = 0x2000;
        public const ulong Zone = 0x3000;
        public const ulong Scheduling = 0x4000;
        public const ulong Pending = 0x5000;
        public const ulong DeleteThrottle = 0x6000;
        public const ulong DeleteTransient = 0x7000;
        public const ulong Id = 0x10000;
    }

    /// <summary>What a create needs from the pod, extracted once so that no V1Pod is kept.</summary>
    private sealed class PodPlan
    {
        public required string[] ContainerNames { get; init; }
        public required string[] Images { get; init; }
        public required string Spec { get; init; }
        public double? RunSeconds { get; init; }
        public int ExitCode { get; init; }
        public double StopSeconds { get; init; }
        public string? FailCreate { get; init; }
        public string? InvalidCode { get; init; }
        public string? InvalidMessage { get; init; }

        public static PodPlan From(CreateContainerGroupRequest request, HashSet<string> invalidImages)
        {
            var containers = request.Pod?.Spec?.Containers ?? [];
            var names = new string[containers.Count];
            var images = new string[containers.Count];
            string? invalidCode = null, invalidMessage = null;
            for (var i = 0; i < containers.Count; i++)
            {
                names[i] = containers[i].Name ?? $"container-{i}";
                images[i] = containers[i].Image ?? string.Empty;
                if (invalidCode is null && (string.IsNullOrWhiteSpace(images[i]) || invalidImages.Contains(images[i])
                    || images[i].Contains(SimulatorOptions.InvalidImageMarker, StringComparison.Ordinal)))
                {
                    invalidCode = "InvalidParameter.Image";
                    invalidMessage = $"Container {names[i]}: image '{images[i]}' is invalid or does not exist.";
                }
            }

            if (containers.Count == 0)
            {
                invalidCode = "MissingParameter.Containers";
                invalidMessage = "The pod has no containers.";
            }

            var annotations = request.Pod?.Metadata?.Annotations;
            double? runSeconds = null;
            var exitCode = 0;
            double stopSeconds = 0;
            if (annotations is not null && invalidCode is null)
            {
                if (annotations.TryGetValue(SimulatorAnnotations.RunSeconds, out var run))
                {
                    if (double.TryParse(run, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
                        && double.IsFinite(seconds) && seconds is >= 0 and <= 1e9)
                    {
                        runSeconds = seconds;
                    }
                    else
                    {
                        invalidCode = "InvalidParameter.Annotation";
                        invalidMessage = $"{SimulatorAnnotations.RunSeconds} must be a number of seconds, got '{run}'.";
                    }
                }

                if (annotations.TryGetValue(SimulatorAnnotations.StopSeconds, out var stop) && invalidCode is null)
                {
                    if (double.TryParse(stop, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
                        && double.IsFinite(seconds) && seconds is >= 0 and <= 1e9)
                    {
                        stopSeconds = Math.Min(seconds, request.Pod?.Spec?.TerminationGracePeriodSeconds ?? 30);
                    }
                    else
                    {
                        invalidCode = "InvalidParameter.Annotation";
                        invalidMessage = $"{SimulatorAnnotations.StopSeconds} must be a number of seconds, got '{stop}'.";
                    }
                }

                if (annotations.TryGetValue(SimulatorAnnotations.ExitCode, out var exit) && invalidCode is null
                    && !int.TryParse(exit, NumberStyles.Integer, CultureInfo.InvariantCulture, out exitCode))
                {
                    invalidCode = "InvalidParameter.Annotation";
                    invalidMessage = $"{SimulatorAnnotations.ExitCode} must be an integer, got '{exit}'.";
                }
            }

            string? failCreate = null;
            if (annotations is not null && annotations.TryGetValue(SimulatorAnnotations.FailCreate, out var forced) && !string.IsNullOrWhiteSpace(forced))
            {
                failCreate = forced.Trim();
            }

            return new PodPlan
            {
                ContainerNames = names,
                Images = images,
                Spec = request.Spec?.Text ?? DeriveSpec(containers),
                RunSeconds = runSeconds,
                ExitCode = exitCode,
                StopSeconds = stopSeconds,
                FailCreate = failCreate,
                InvalidCode = invalidCode,
                InvalidMessage = invalidMessage,
            };
        }

        /// <summary>Sums the containers' requests (limits when there are none) and rounds up to an ECI spec.</summary>
        private static string DeriveSpec(IList<V1Container> containers)
        {
            double cpu = 0, memoryGiB = 0;
            foreach (var container in containers)
            {
                var resources = container.Resources?.Requests is { Count: > 0 } requests ? requests : container.Resources?.Limits;
                if (resources is null)
                {
                    continue;
                }

                if (resources.TryGetValue("cpu", out var c))
                {
                    cpu += c.ToDouble();
                }

                if (resources.TryGetValue("memory", out var m))
                {
                    memoryGiB += m.ToDouble() / (1024.0 * 1024 * 1024);
                }
            }

            if (cpu <= 0 && memoryGiB <= 0)
            {
                return DefaultSpec;
            }

            var cpuSpec = RoundUp(Math.Max(cpu, CpuLadder[0]), CpuLadder);
            var memorySpec = RoundUp(Math.Max(memoryGiB, MemoryLadder[0]), MemoryLadder);
            return string.Create(CultureInfo.InvariantCulture, $"{cpuSpec}-{memorySpec}Gi");
        }

        private static double RoundUp(double value, double[] ladder)
        {
            foreach (var step in ladder)
            {
                if (value <= step + 1e-9)
                {
                    return step;
                }
            }

            return Math.Ceiling(value);
        }
    }

    private struct TokenState
    {
        public int Attempts;
        public int Generation;
        public Instance? Current;
    }

    private struct PodRecord
    {
        public int Alive;
        public int Created;
        public bool Duplicate;
    }

    /// <summary>One container group: a fixed timeline decided at creation, so status needs no timer.</summary>
    private sealed class Instance(
        string id, string clientToken, string? podUid, IReadOnlyDictionary<string, string> tags,
        string[] containerNames, string[] images, string spec, string zone, string ip)
    {
        public string Id { get; } = id;
        public string ClientToken { get; } = clientToken;
        public string? PodUid { get; } = podUid;
        public IReadOnlyDictionary<string, string> Tags { get; } = tags;
        public string[] ContainerNames { get; } = containerNames;
        public string[] Images { get; } = images;
        public string Spec { get; } = spec;
        public string Zone { get; } = zone;
        public string Ip { get; } = ip;
        public long CreatedAt { get; init; }
        public long PendingAt { get; init; }
        public long RunningAt { get; init; }
        public long FinishedAt { get; init; }
        public int ExitCode { get; init; }
        public double StopSeconds { get; init; }
        public int DeleteAttempts { get; set; }
        public bool Removed { get; set; }

        public ContainerGroupStatus StatusAt(long now, out long changedAt)
        {
            if (now < PendingAt)
            {
                changedAt = CreatedAt;
                return ContainerGroupStatus.Scheduling;
            }

            if (now < RunningAt)
            {
                changedAt = PendingAt;
                return ContainerGroupStatus.Pending;
            }

            if (now < FinishedAt)
            {
                changedAt = RunningAt;
                return ContainerGroupStatus.Running;
            }

            changedAt = FinishedAt;
            return ExitCode == 0 ? ContainerGroupStatus.Succeeded : ContainerGroupStatus.Failed;
        }
    }

    private readonly record struct PageKey(long Ticks, string Id) : IComparable<PageKey>
    {
        public int CompareTo(PageKey other)
        {
            var byTime = Ticks.CompareTo(other.Ticks);
            return byTime != 0 ? byTime : string.CompareOrdinal(Id, other.Id);
        }
    }

    /// <summary>Keeps the <c>limit + 1</c> smallest keys after the cursor: O(limit) memory whatever the scan size.</summary>
    private sealed class PageCollector(int limit, PageKey? after)
    {
        private static readonly IComparer<PageKey> Descending = Comparer<PageKey>.Create(static (a, b) => b.CompareTo(a));
        private readonly PriorityQueue<Instance, PageKey> heap = new(limit + 1, Descending);

        public void Offer(Instance instance, PageKey key)
        {
            if (after is { } cursor && key.CompareTo(cursor) <= 0)
            {
                return;
            }

            if (heap.Count <= limit)
            {
                heap.Enqueue(instance, key);
            }
            else if (heap.TryPeek(out _, out var largest) && key.CompareTo(largest) < 0)
            {
                heap.EnqueueDequeue(instance, key);
            }
        }

        public ContainerGroupPage ToPage(string tokenPrefix, Func<Instance, ContainerGroup> map)
        {
            var more = heap.Count > limit;
            if (more)
            {
                heap.Dequeue();
            }

            var items = new ContainerGroup[heap.Count];
            PageKey last = default;
            for (var i = items.Length - 1; i >= 0; i--)
            {
                heap.TryDequeue(out var instance, out var key);
                items[i] = map(instance!);
                if (i == items.Length - 1)
                {
                    last = key;
                }
            }

            var next = more ? string.Create(CultureInfo.InvariantCulture, $"{tokenPrefix}{last.Ticks}.{last.Id}") : null;
            return new ContainerGroupPage(items, next);
        }
    }
}

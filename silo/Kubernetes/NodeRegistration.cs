using System.Net;
using k8s;
using k8s.Models;
using VNodeMesh.Grains;
using VNodeMesh.Silo.Hosting;

namespace VNodeMesh.Silo.Kubernetes;

/// <summary>
/// A virtual node's <c>Node</c> object and its <c>Lease</c> in <c>kube-node-lease</c>: registered
/// (taints merged with those others put there), its lease renewed every 10 s and its status refreshed
/// every minute, so the node stays Ready while a silo serves it.
/// </summary>
public sealed partial class NodeRegistration(
    VirtualNodeDefinition definition,
    IKubernetes kubernetes,
    KubernetesOptions options,
    VirtualNodeOptions nodeOptions,
    TimeProvider time,
    ILogger logger)
{
    public const string LeaseNamespace = "kube-node-lease";
    public const string ProviderTaintKey = "virtual-kubelet.io/provider";

    public static readonly string KubeletVersion =
        $"v{typeof(NodeRegistration).Assembly.GetName().Version?.ToString(3) ?? "0.0.0"}-vnodemesh";

    private string Name => definition.Name;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var node = (await Retry("register", RegisterAsync, cancellationToken))!;
        var nextStatus = time.GetUtcNow() + options.NodeStatusInterval;
        using var timer = new PeriodicTimer(options.LeaseRenewInterval, time);
        do
        {
            await Retry("renew lease", ct => RenewLeaseAsync(node, ct), cancellationToken, attempts: 3);
            if (time.GetUtcNow() >= nextStatus)
            {
                await Retry("refresh status", ct => PatchStatusAsync(ct), cancellationToken, attempts: 3);
                nextStatus = time.GetUtcNow() + options.NodeStatusInterval;
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken));
    }

    /// <summary>Creates the node, or patches labels and taints of an existing one, then writes its status.</summary>
    public async Task<V1Node> RegisterAsync(CancellationToken cancellationToken)
    {
        V1Node node;
        try
        {
            var existing = await kubernetes.CoreV1.ReadNodeAsync(Name, cancellationToken: cancellationToken);
            var patch = new V1Node
            {
                Metadata = new V1ObjectMeta { Labels = Labels() },
                Spec = new V1NodeSpec { Taints = MergeTaints(existing.Spec?.Taints) },
            };
            node = await kubernetes.CoreV1.PatchNodeAsync(new V1Patch(patch, V1Patch.PatchType.StrategicMergePatch), Name, cancellationToken: cancellationToken);
            LogRegistered(Name, "patched");
        }
        catch (Exception ex) when (ex.Is(HttpStatusCode.NotFound))
        {
            node = await kubernetes.CoreV1.CreateNodeAsync(new V1Node
            {
                Metadata = new V1ObjectMeta { Name = Name, Labels = Labels() },
                Spec = new V1NodeSpec { Taints = MergeTaints(null) },
            }, cancellationToken: cancellationToken);
            LogRegistered(Name, "created");
        }

        await PatchStatusAsync(cancellationToken);
        return node;
    }

    public Dictionary<string, string> Labels()
    {
        var labels = new Dictionary<string, string>
        {
            ["type"] = "virtual-kubelet",
            ["kubernetes.io/role"] = "agent",
            ["kubernetes.io/hostname"] = Name,
            ["kubernetes.io/os"] = "linux",
            ["kubernetes.io/arch"] = "amd64",
            ["beta.kubernetes.io/os"] = "linux",
            ["beta.kubernetes.io/arch"] = "amd64",
        };
        if (definition.Region is { } region)
        {
            labels["topology.kubernetes.io/region"] = region;
        }

        if (definition.Zone is { } zone)
        {
            labels["topology.kubernetes.io/zone"] = zone;
        }

        foreach (var (key, value) in definition.Labels)
        {
            labels[key] = value;
        }

        return labels;
    }

    /// <summary>Ours (the provider taint and the configured ones) replace same-key taints; the rest are kept.</summary>
    private List<V1Taint> MergeTaints(IList<V1Taint>? existing)
    {
        var ours = new List<V1Taint> { new() { Key = ProviderTaintKey, Value = options.ProviderName, Effect = "NoSchedule" } };
        ours.AddRange(definition.Taints.Select(t => new V1Taint { Key = t.Key, Value = t.Value, Effect = t.Effect }));
        var keys = ours.Select(t => (t.Key, t.Effect)).ToHashSet();
        return [.. ours, .. (existing ?? []).Where(t => !keys.Contains((t.Key, t.Effect)))];
    }

    private async Task PatchStatusAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var resources = new Dictionary<string, ResourceQuantity>
        {
            ["cpu"] = new(options.Cpu),
            ["memory"] = new(options.Memory),
            ["pods"] = new(nodeOptions.Capacity.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        };
        var status = new V1NodeStatus
        {
            Capacity = resources,
            Allocatable = resources,
            Conditions =
            [
                Condition("Ready", "True", "KubeletReady", "VNodeMesh is serving this virtual node", now),
                Condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "virtual node", now),
                Condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "virtual node", now),
                Condition("PIDPressure", "False", "KubeletHasSufficientPID", "virtual node", now),
                Condition("NetworkUnavailable", "False", "RouteCreated", "virtual node", now),
            ],
            Addresses =
            [
                new() { Type = "InternalIP", Address = options.AdvertiseAddress ?? "127.0.0.1" },
                new() { Type = "Hostname", Address = Name },
            ],
            DaemonEndpoints = new V1NodeDaemonEndpoints { KubeletEndpoint = new V1DaemonEndpoint { Port = options.KubeletPort } },
            NodeInfo = new V1NodeSystemInfo
            {
                KubeletVersion = KubeletVersion,
                KubeProxyVersion = "",
                OperatingSystem = "linux",
                Architecture = "amd64",
                OsImage = "",
                KernelVersion = "",
                ContainerRuntimeVersion = "",
                MachineID = "",
                SystemUUID = "",
                BootID = "",
            },
        };
        await kubernetes.CoreV1.PatchNodeStatusAsync(new V1Patch(new V1Node { Status = status }, V1Patch.PatchType.StrategicMergePatch), Name, cancellationToken: cancellationToken);
    }

    private static V1NodeCondition Condition(string type, string status, string reason, string message, DateTime now) => new()
    {
        Type = type,
        Status = status,
        Reason = reason,
        Message = message,
        LastHeartbeatTime = now,
        LastTransitionTime = now,
    };

    /// <summary>Renews the node's Lease, creating it (owned by the node, so it goes with it) when missing.</summary>
    public async Task RenewLeaseAsync(V1Node node, CancellationToken cancellationToken)
    {
        var spec = new V1LeaseSpec
        {
            HolderIdentity = Name,
            LeaseDurationSeconds = options.LeaseDurationSeconds,
            RenewTime = time.GetUtcNow().UtcDateTime,
        };
        try
        {
            await kubernetes.CoordinationV1.PatchNamespacedLeaseAsync(
                new V1Patch(new V1Lease { Spec = spec }, V1Patch.PatchType.MergePatch), Name, LeaseNamespace, cancellationToken: cancellationToken);
        }
        catch (Exception ex) when (ex.Is(HttpStatusCode.NotFound))
        {
            await kubernetes.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
            {
                Metadata = new V1ObjectMeta
                {
                    Name = Name,
                    NamespaceProperty = LeaseNamespace,
                    OwnerReferences = [new V1OwnerReference { ApiVersion = "v1", Kind = "Node", Name = Name, Uid = node.Uid() }],
                },
                Spec = spec,
            }, LeaseNamespace, cancellationToken: cancellationToken);
        }
    }

    /// <summary>Retries with backoff; after the last attempt the failure is logged and the next tick tries again.</summary>
    private async Task<T?> Retry<T>(string what, Func<CancellationToken, Task<T>> action, CancellationToken cancellationToken, int attempts = int.MaxValue)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await action(cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                LogNodeWriteFailed(ex, Name, what, attempt);
                if (attempt >= attempts)
                {
                    return default;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5_000, 250 * Math.Pow(2, attempt - 1))), time, cancellationToken);
            }
        }
    }

    private Task Retry(string what, Func<CancellationToken, Task> action, CancellationToken cancellationToken, int attempts) =>
        Retry<bool>(what, async ct => { await action(ct); return true; }, cancellationToken, attempts);

    [LoggerMessage(Level = LogLevel.Information, Message = "Virtual node {Node} registered ({How})")]
    private partial void LogRegistered(string node, string how);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Virtual node {Node}: {What} failed (attempt {Attempt})")]
    private partial void LogNodeWriteFailed(Exception exception, string node, string what, int attempt);
}

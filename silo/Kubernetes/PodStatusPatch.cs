using k8s.Models;
using VNodeMesh.Grains.Cluster;

namespace VNodeMesh.Silo.Kubernetes;

/// <summary>
/// Turns what a pod grain wants shown (<see cref="PodView"/>) into one strategic-merge patch of the
/// pod's status subresource. The instance annotations ride in the same patch (the pods/status
/// endpoint keeps metadata annotations), so creating and reporting an instance costs one write.
/// The patch carries the pod's UID: a pod deleted and re-created under the same name is never touched.
/// </summary>
public static class PodStatusPatch
{
    public const string InstanceCreated = "ContainerInstanceCreated";
    public const string ProviderCreate = "ProviderCreate";
    public const string InstanceId = "k8s.aliyun.com/eci-instance-id";
    public const string InstanceSpec = "k8s.aliyun.com/eci-instance-spec";
    public const string InstanceZone = "k8s.aliyun.com/eci-instance-zone";
    public const string RequestId = "k8s.aliyun.com/eci-request-id";

    public static V1Patch Build(PodView view) => new(BuildPod(view), V1Patch.PatchType.StrategicMergePatch);

    public static V1Pod BuildPod(PodView view)
    {
        var instance = view.Instance;
        var phase = view.Stage.ToPodPhase();
        var running = phase == PodPhase.Running && view.Stage != PodStage.Terminating;
        var containers = instance?.Containers ?? [];
        var ready = running && containers.All(c => c.Ready);
        var started = instance is not null && view.Stage is PodStage.Running or PodStage.Terminating or PodStage.Succeeded
            || (view.Stage == PodStage.Failed && instance?.Status is not null);

        var conditions = new List<V1PodCondition>
        {
            Condition("PodScheduled", true, view.AcceptedAt ?? view.At),
            Condition("Initialized", started, view.At),
            Condition("ContainersReady", ready, view.At, ready ? null : NotReadyReason(view.Stage)),
            Condition("Ready", ready, view.At, ready ? null : NotReadyReason(view.Stage)),
        };
        if (instance is not null)
        {
            conditions.Add(Condition(InstanceCreated, true, instance.CreatedAt ?? view.At));
        }
        else if (view.Reason is { } reason)
        {
            conditions.Add(Condition(InstanceCreated, false, view.At, reason, view.Message));
        }

        var terminal = view.Stage is PodStage.Succeeded or PodStage.Failed;
        var status = new V1PodStatus
        {
            Phase = phase.ToString(),
            Conditions = conditions,
            StartTime = view.AcceptedAt?.UtcDateTime,
            Reason = terminal || instance is null ? view.Reason : null,
            Message = terminal || instance is null ? view.Message : null,
            ContainerStatuses = containers.Count == 0 ? null : [.. containers.Select(ContainerStatus)],
        };
        if (instance?.IntranetIp is { } ip)
        {
            status.PodIP = ip;
            status.PodIPs = [new V1PodIP { Ip = ip }];
            status.HostIP = ip;
        }

        var metadata = new V1ObjectMeta { Uid = view.Pod.Uid.ToString() };
        if (instance is not null)
        {
            metadata.Annotations = new Dictionary<string, string>
            {
                [InstanceId] = instance.InstanceId,
                [ProviderCreate] = "done",
            };
            Add(metadata.Annotations, InstanceSpec, instance.Spec);
            Add(metadata.Annotations, InstanceZone, instance.ZoneId);
            Add(metadata.Annotations, RequestId, instance.RequestId);
        }

        return new V1Pod { Metadata = metadata, Status = status };
    }

    private static string? NotReadyReason(PodStage stage) => stage switch
    {
        PodStage.Succeeded or PodStage.Failed => "PodCompleted",
        _ => "ContainersNotReady",
    };

    private static V1PodCondition Condition(string type, bool value, DateTimeOffset since, string? reason = null, string? message = null) =>
        new() { Type = type, Status = value ? "True" : "False", LastTransitionTime = since.UtcDateTime, Reason = reason, Message = message };

    private static V1ContainerStatus ContainerStatus(ContainerState c) => new()
    {
        Name = c.Name,
        Ready = c.Ready,
        RestartCount = c.RestartCount,
        Started = c.State == ContainerStateKind.Running,
        Image = "",
        ImageID = "",
        State = c.State switch
        {
            ContainerStateKind.Running => new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = c.StartedAt?.UtcDateTime } },
            ContainerStateKind.Terminated => new V1ContainerState
            {
                Terminated = new V1ContainerStateTerminated
                {
                    ExitCode = c.ExitCode ?? 0,
                    Reason = c.Reason ?? (c.ExitCode is 0 or null ? "Completed" : "Error"),
                    StartedAt = c.StartedAt?.UtcDateTime,
                    FinishedAt = c.FinishedAt?.UtcDateTime,
                },
            },
            _ => new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = c.Reason ?? "ContainerCreating" } },
        },
    };

    private static void Add(IDictionary<string, string> annotations, string key, string? value)
    {
        if (value is not null)
        {
            annotations[key] = value;
        }
    }
}

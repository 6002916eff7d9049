using k8s.Models;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>The pods of a burst: small, identical web containers, each with its own UID.</summary>
public static class BurstPods
{
    public static PodManifest Create(int index, string runId) => PodManifest.From(new V1Pod
    {
        Metadata = new V1ObjectMeta
        {
            Name = $"burst-{runId}-{index}",
            NamespaceProperty = "burst",
            Uid = Guid.NewGuid().ToString(),
            Labels = new Dictionary<string, string> { ["app"] = "burst", ["run"] = runId },
        },
        Spec = WebSpec("1", "2Gi"),
    });

    /// <summary>The label every API pod of a run carries, and the run label of the virtual node with <c>--scheduler</c>.</summary>
    public const string RunLabel = "vnodemesh.io/burst-run";

    /// <summary>
    /// A burst pod to create through the API server: bound to <paramref name="nodeName"/> when given;
    /// otherwise left to kube-scheduler, with a node selector for virtual-kubelet nodes of this run and a
    /// toleration of the provider taint. Requests are small so that tens of thousands fit the node.
    /// </summary>
    public static V1Pod ForApi(int index, string runId, string @namespace, string? nodeName)
    {
        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta
            {
                Name = $"burst-{index}",
                NamespaceProperty = @namespace,
                Labels = new Dictionary<string, string> { ["app"] = "burst", [RunLabel] = runId },
            },
            Spec = WebSpec("10m", "16Mi"),
        };
        if (nodeName is not null)
        {
            pod.Spec.NodeName = nodeName;
        }
        else
        {
            pod.Spec.NodeSelector = new Dictionary<string, string> { ["type"] = "virtual-kubelet", [RunLabel] = runId };
            pod.Spec.Tolerations = [new V1Toleration { Key = "virtual-kubelet.io/provider", OperatorProperty = "Exists", Effect = "NoSchedule" }];
        }

        return pod;
    }

    private static V1PodSpec WebSpec(string cpu, string memory) => new()
    {
        Containers =
        [
            new V1Container
            {
                Name = "web",
                Image = "registry.local/nginx:1.27",
                Resources = new V1ResourceRequirements
                {
                    Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(cpu), ["memory"] = new(memory) },
                },
            },
        ],
        RestartPolicy = "Always",
    };
}

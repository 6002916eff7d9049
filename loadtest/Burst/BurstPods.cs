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
        Spec = new V1PodSpec
        {
            Containers =
            [
                new V1Container
                {
                    Name = "web",
                    Image = "registry.local/nginx:1.27",
                    Resources = new V1ResourceRequirements
                    {
                        Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("1"), ["memory"] = new("2Gi") },
                    },
                },
            ],
            RestartPolicy = "Always",
        },
    });
}

using k8s.Models;

namespace VNodeMesh.Tests.Infrastructure;

public static class TestPods
{
    public static V1Pod Create(string name, IDictionary<string, string>? annotations = null, Action<V1Pod>? configure = null)
    {
        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta
            {
                Name = name,
                NamespaceProperty = "tests",
                Uid = Guid.NewGuid().ToString(),
                Annotations = annotations is null ? null : new Dictionary<string, string>(annotations),
            },
            Spec = new V1PodSpec
            {
                Containers = [new V1Container { Name = "app", Image = "registry.local/app:1" }],
            },
        };
        configure?.Invoke(pod);
        return pod;
    }

    public static Guid Uid(this V1Pod pod) => Guid.Parse(pod.Metadata.Uid);
}

using k8s;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using VNodeMesh.Grains.Cluster;
using VNodeMesh.Silo.Kubernetes;
using VNodeMesh.Silo.Providers.Eci;

namespace VNodeMesh.Silo.Hosting;

public static class KubernetesBridgeExtensions
{
    /// <summary>
    /// Connects the silo's virtual nodes to Kubernetes when a kubeconfig is configured
    /// (<c>VNodeMesh:Kubernetes:Kubeconfig</c>, <c>--kubeconfig</c>) or the silo runs in a pod with a
    /// service account. Without either, nothing is registered and the local profile runs alone.
    /// </summary>
    public static ISiloBuilder UseKubernetes(this ISiloBuilder silo, IConfiguration configuration)
    {
        var section = configuration.GetSection(KubernetesOptions.Section);
        var kubeconfig = section[nameof(KubernetesOptions.Kubeconfig)];
        if (string.IsNullOrEmpty(kubeconfig) && !KubernetesClientConfiguration.IsInCluster())
        {
            return silo;
        }

        var services = silo.Services;
        services.AddOptions<KubernetesOptions>().Bind(section).ValidateDataAnnotations().ValidateOnStart()
            .PostConfigure<IInstanceProvider>((o, provider) => o.ProviderName ??= provider.Name);
        services.AddSingleton(new KubernetesClients(string.IsNullOrEmpty(kubeconfig)
            ? KubernetesClientConfiguration.InClusterConfig()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig)));
        services.AddSingleton(sp => sp.GetRequiredService<KubernetesClients>().Create());
        services.AddSingleton<WriteBudget>();
        services.AddSingleton<EventBudget>();
        services.AddSingleton<PodEventRecorder>();
        services.AddHostedService(sp => sp.GetRequiredService<PodEventRecorder>());
        services.AddSingleton<PodStatusWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<PodStatusWriter>());
        // Registered last, these win over the local profile's defaults.
        services.AddSingleton<IPodMirror>(sp => sp.GetRequiredService<PodStatusWriter>());
        services.AddSingleton<INodeConnector, KubernetesNodeConnector>();
        services.AddSingleton<IPodReferenceSource, KubernetesPodReferences>();
        return silo;
    }
}

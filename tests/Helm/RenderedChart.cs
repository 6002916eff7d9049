using k8s;
using k8s.Models;

namespace VNodeMesh.Tests.Helm;

/// <summary>The chart rendered by <c>helm template</c> for one value set, as typed Kubernetes objects.</summary>
public sealed class RenderedChart
{
    public const string Release = "vnm";

    private RenderedChart(string text, IReadOnlyList<object> objects)
    {
        Text = text;
        Objects = objects;
    }

    public string Text { get; }

    public IReadOnlyList<object> Objects { get; }

    public V1Deployment Silo => Single<V1Deployment>();

    public V1Container SiloContainer => Silo.Spec.Template.Spec.Containers.Single(c => c.Name == "silo");

    public IReadOnlyDictionary<string, V1EnvVar> Env => SiloContainer.Env.ToDictionary(e => e.Name);

    public V1ClusterRole ClusterRole => Single<V1ClusterRole>();

    public IEnumerable<T> All<T>() => Objects.OfType<T>();

    public T Single<T>() where T : IKubernetesObject<V1ObjectMeta>
    {
        var found = Objects.OfType<T>().ToList();
        Assert.True(found.Count == 1, $"expected one {typeof(T).Name}, rendered {found.Count}");
        return found[0];
    }

    public T? Find<T>(string name) where T : IKubernetesObject<V1ObjectMeta> => Objects.OfType<T>().SingleOrDefault(o => o.Name() == name);

    /// <summary>The literal value of a silo environment variable; fails if it comes from elsewhere.</summary>
    public string Value(string name)
    {
        Assert.True(Env.TryGetValue(name, out var env), $"the silo has no {name}");
        Assert.Null(env.ValueFrom);
        return env.Value;
    }

    /// <summary>The Secret and key a silo environment variable is read from.</summary>
    public (string Secret, string Key) SecretRef(string name)
    {
        Assert.True(Env.TryGetValue(name, out var env), $"the silo has no {name}");
        Assert.Null(env.Value);
        var reference = env.ValueFrom?.SecretKeyRef;
        Assert.NotNull(reference);
        return (reference.Name, reference.Key);
    }

    /// <summary>Every ClusterRole rule as "group/resource:verb", one per verb, sorted.</summary>
    public static IReadOnlyList<string> Grants(IEnumerable<V1PolicyRule> rules) =>
        [.. rules.SelectMany(r => r.ApiGroups.SelectMany(g => r.Resources.SelectMany(res => r.Verbs.Select(v => $"{g}/{res}:{v}"))))
            .Order(StringComparer.Ordinal)];

    /// <summary>
    /// The silo's configuration as the process would read it: the literal environment variables
    /// (<c>__</c> for <c>:</c>) and the <c>--key=value</c> arguments.
    /// </summary>
    public Dictionary<string, string?> SiloSettings()
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var env in SiloContainer.Env.Where(e => e.ValueFrom is null && e.Name.StartsWith("VNODEMESH__", StringComparison.Ordinal)))
        {
            settings[env.Name.Replace("__", ":", StringComparison.Ordinal)] = env.Value;
        }

        foreach (var arg in SiloContainer.Args ?? [])
        {
            Assert.StartsWith("--", arg);
            var split = arg.IndexOf('=', StringComparison.Ordinal);
            settings[arg[2..split]] = arg[(split + 1)..];
        }

        return settings;
    }

    /// <summary><c>helm template</c> with these values (YAML); fails with helm's message if helm does.</summary>
    public static async Task<RenderedChart> TemplateAsync(string values, params string[] args)
    {
        var result = await HelmTemplateAsync(values, args);
        result.EnsureSuccess("helm template");
        return Parse(result.Stdout);
    }

    public static async Task<ToolResult> HelmTemplateAsync(string values, params string[] args)
    {
        var file = Path.Combine(Path.GetTempPath(), $"vnodemesh-values-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, values);
        try
        {
            return await HelmTools.HelmAsync(["template", Release, HelmTools.ChartPath, "--namespace", "vnodemesh-test", "--values", file, .. args]);
        }
        finally
        {
            File.Delete(file);
        }
    }

    public static RenderedChart Parse(string text) => new(text, KubernetesYaml.LoadAllFromString(text, strict: true));
}

/// <summary>The value sets the tests render: the README's simulator install, ECI, external Redis, TokenReview.</summary>
public static class ChartValues
{
    public const string Simulator = "";

    public const string Eci = """
        provider:
          name: eci
          quota: {burst: 300, perSecond: 50}
        eci:
          region: cn-hangzhou
          useVpcEndpoint: true
          vSwitches: [vsw-default1, vsw-default2]
          securityGroup: sg-default
        virtualNodes:
          capacity: 20000
          items:
            - name: vn-hangzhou-h
              region: cn-hangzhou
              zone: cn-hangzhou-h
              vSwitches: [vsw-zoneh1, vsw-zoneh2]
              securityGroup: sg-zoneh
              labels: {team: burst, example.com/pool: eci}
              taints:
                - {key: example.com/dedicated, value: burst, effect: NoExecute}
            - name: vn-hangzhou-i
              zone: cn-hangzhou-i
        """;

    public const string ExternalRedis = """
        redis:
          options: ssl=true,abortConnect=false
          external:
            address: redis.data.svc:6380
            existingSecret: shared-redis
            existingSecretKey: password
        dashboard:
          token: {existingSecret: ops-dashboard, existingSecretKey: token}
        """;

    public const string TokenReview = """
        dashboard:
          auth: TokenReview
        """;
}

using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using k8s.Models;
using VNodeMesh.Grains.Lifecycle;
using VNodeMesh.Silo.Providers.Simulator;

namespace VNodeMesh.Silo.Providers.Eci;

/// <summary>Where a virtual node places its instances (from its configuration): region, vSwitches (several: multi-zone), security group.</summary>
public sealed record EciPlacement(string RegionId, IReadOnlyList<string> VSwitchIds, string? SecurityGroupId);

/// <summary>ConfigMap and Secret contents a pod refers to; the Kubernetes bridge reads them from the API server. null = does not exist.</summary>
public interface IPodReferenceSource
{
    Task<IReadOnlyDictionary<string, string>?> GetConfigMapAsync(string @namespace, string name, CancellationToken cancellationToken);

    Task<IReadOnlyDictionary<string, byte[]>?> GetSecretAsync(string @namespace, string name, CancellationToken cancellationToken);
}

/// <summary>For silos without Kubernetes: nothing can be looked up.</summary>
public sealed class NoPodReferences : IPodReferenceSource
{
    public Task<IReadOnlyDictionary<string, string>?> GetConfigMapAsync(string @namespace, string name, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyDictionary<string, string>?>(null);

    public Task<IReadOnlyDictionary<string, byte[]>?> GetSecretAsync(string @namespace, string name, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyDictionary<string, byte[]>?>(null);
}

/// <summary>
/// Turns a pod into ECI CreateContainerGroup parameters. What the pod refers to (ConfigMaps, Secrets,
/// its own fields) is resolved here, as kubelet would, because the cloud knows nothing of the cluster.
/// Errors name the offending field so the user knows what to change.
/// </summary>
public static partial class ContainerGroupParameters
{
    // Pod annotations read at creation, spelled as the product documents them.
    private const string VSwitchAnnotation = PodAnnotations.Prefix + "eci-vswitch";
    private const string ScheduleStrategyAnnotation = PodAnnotations.Prefix + "eci-schedule-strategy";
    private const string SecurityGroupAnnotation = PodAnnotations.Prefix + "eci-security-group";
    private const string SpotStrategyAnnotation = PodAnnotations.Prefix + "eci-spot-strategy";
    private const string SpotPriceLimitAnnotation = PodAnnotations.Prefix + "eci-spot-price-limit";
    private const string AutoImageCacheAnnotation = PodAnnotations.Prefix + "eci-auto-imc";
    private const string ImageCacheIdAnnotation = PodAnnotations.Prefix + "eci-imc-id";
    private const string EphemeralStorageAnnotation = PodAnnotations.Prefix + "eci-extra-ephemeral-storage";
    private const string WithEipAnnotation = PodAnnotations.Prefix + "eci-with-eip";
    private const string EipBandwidthAnnotation = PodAnnotations.Prefix + "eip-bandwidth";
    private const string EipInstanceIdAnnotation = PodAnnotations.Prefix + "eci-eip-instanceid";

    private const string ConfigMapKind = "ConfigMap";
    private const string SecretKind = "Secret";
    private const string ConfigError = "CreateContainerConfigError";
    private const string MountError = "FailedMount";
    private const decimal BytesPerGiB = 1024m * 1024m * 1024m;
    private const int MaxTags = 20;

    private static readonly IDictionary<string, string> NoAnnotations = new Dictionary<string, string>();

    /// <summary>
    /// The CreateContainerGroup request parameters for a pod, flattened as the API wants them (lists as
    /// Name.N.Field counted from 1), in a stable order.
    /// </summary>
    /// <exception cref="InvalidSpecException">The pod can never be created as it is.</exception>
    /// <exception cref="TransientProviderException">A ConfigMap or Secret the pod needs is missing (it may appear).</exception>
    public static async Task<IReadOnlyList<KeyValuePair<string, string>>> ForCreateAsync(
        CreateContainerGroupRequest request, EciPlacement placement, IPodReferenceSource references, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(placement);
        ArgumentNullException.ThrowIfNull(references);

        var pod = request.Pod;
        var spec = pod.Spec is { Containers.Count: > 0 } s ? s
            : throw new InvalidSpecException(PodAdmission.ReasonUnsupported, "spec.containers: a pod needs at least one container");
        var annotations = pod.Metadata?.Annotations ?? NoAnnotations;
        var lookup = new References(references, pod.Metadata?.NamespaceProperty ?? "default", cancellationToken);
        var context = new PodContext(pod, request.Spec, lookup);

        var p = new Parameters();
        AddIdentity(p, request, placement, spec);
        AddSize(p, request.Spec, spec.Containers);
        AddNetwork(p, placement, annotations);
        AddSpot(p, annotations);
        AddImageCache(p, annotations);
        AddEphemeralStorage(p, annotations);
        AddEip(p, annotations);
        AddLifetime(p, spec);
        AddDns(p, spec);
        AddHostAliases(p, spec.HostAliases);
        AddTags(p, request.Tags, annotations);
        await AddRegistryCredentialsAsync(p, spec.ImagePullSecrets, lookup);
        await AddVolumesAsync(p, spec.Volumes, lookup);
        await AddContainersAsync(p, "InitContainer", "initContainers", spec.InitContainers, context);
        await AddContainersAsync(p, "Container", "containers", spec.Containers, context);
        return p.Items;
    }

    private static void AddIdentity(Parameters p, CreateContainerGroupRequest request, EciPlacement placement, V1PodSpec spec)
    {
        p.Add("RegionId", placement.RegionId);
        p.Add("ContainerGroupName", CheckedName(request.ContainerGroupName));
        p.Add("ClientToken", request.ClientToken);
        p.Add("RestartPolicy", spec.RestartPolicy switch
        {
            null or "" => "Always",
            "Always" or "OnFailure" or "Never" => spec.RestartPolicy,
            var other => throw new InvalidSpecException("InvalidParameter.RestartPolicy", $"spec.restartPolicy: '{other}' is not one of Always, OnFailure, Never"),
        });
    }

    private static string CheckedName(string name) => ContainerGroupNamePattern().IsMatch(name) ? name
        : throw new InvalidSpecException("InvalidParameter.ContainerGroupName",
            $"ContainerGroupName '{name}' must be 2-128 characters of lowercase letters, digits and '-', not starting or ending with '-'");

    /// <summary>The chosen eci-use-specs entry, else what the containers ask for.</summary>
    private static void AddSize(Parameters p, InstanceSpec? chosen, IList<V1Container> containers)
    {
        if (chosen?.InstanceType is { } instanceType)
        {
            p.Add("InstanceType", instanceType);
            return;
        }

        if (chosen is { Cpu: { } cpu, MemoryGiB: { } memory })
        {
            p.AddNumber("Cpu", (decimal)cpu);
            p.AddNumber("Memory", (decimal)memory);
            return;
        }

        decimal? cores = null, gib = null;
        foreach (var container in containers)
        {
            if (Cores(container) is { } c)
            {
                cores = (cores ?? 0) + c;
            }

            if (MemoryGiB(container) is { } m)
            {
                gib = (gib ?? 0) + m;
            }
        }

        p.AddNumber("Cpu", cores);
        p.AddNumber("Memory", gib);
    }

    private static void AddNetwork(Parameters p, EciPlacement placement, IDictionary<string, string> annotations)
    {
        var vSwitches = annotations.TryGetValue(VSwitchAnnotation, out var vSwitchText)
            ? Ids(VSwitchAnnotation, vSwitchText, "vsw-", "vSwitch")
            : placement.VSwitchIds;
        if (vSwitches.Count > 0)
        {
            p.Add("VSwitchId", string.Join(',', vSwitches));
        }

        if (annotations.TryGetValue(ScheduleStrategyAnnotation, out var strategy))
        {
            p.Add("ScheduleStrategy", OneOf(ScheduleStrategyAnnotation, strategy, "VSwitchOrdered", "VSwitchRandom"));
        }

        if (annotations.TryGetValue(SecurityGroupAnnotation, out var securityGroupText))
        {
            var ids = Ids(SecurityGroupAnnotation, securityGroupText, "sg-", "security group");
            p.Add("SecurityGroupId", ids.Count == 1 ? ids[0]
                : throw InvalidAnnotation(SecurityGroupAnnotation, $"'{securityGroupText}' names more than one security group; a container group is created in one"));
        }
        else
        {
            p.Add("SecurityGroupId", placement.SecurityGroupId);
        }
    }

    private static void AddSpot(Parameters p, IDictionary<string, string> annotations)
    {
        decimal? limit = null;
        if (annotations.TryGetValue(SpotPriceLimitAnnotation, out var limitText))
        {
            limit = decimal.TryParse(limitText.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var price)
                && price > 0 && price.Scale <= 3
                ? price
                : throw InvalidAnnotation(SpotPriceLimitAnnotation, $"'{limitText}' is not a positive hourly price with at most three decimals (e.g. 0.5)");
        }

        if (!annotations.TryGetValue(SpotStrategyAnnotation, out var strategyText))
        {
            return; // a price limit alone does nothing, as the product documents
        }

        var strategy = OneOf(SpotStrategyAnnotation, strategyText, "SpotAsPriceGo", "SpotWithPriceLimit");
        p.Add("SpotStrategy", strategy);
        if (strategy == "SpotWithPriceLimit")
        {
            p.Add("SpotPriceLimit", limit?.ToString("0.###", CultureInfo.InvariantCulture)
                ?? throw InvalidAnnotation(SpotPriceLimitAnnotation, $"is required when {SpotStrategyAnnotation} is SpotWithPriceLimit"));
        }
    }

    private static void AddImageCache(Parameters p, IDictionary<string, string> annotations)
    {
        if (annotations.TryGetValue(AutoImageCacheAnnotation, out var auto))
        {
            p.Add("AutoMatchImageCache", Boolean(AutoImageCacheAnnotation, auto));
        }

        if (annotations.TryGetValue(ImageCacheIdAnnotation, out var id))
        {
            p.Add("ImageSnapshotId", Id(ImageCacheIdAnnotation, id, "imc-", "image cache"));
        }
    }

    private static void AddEphemeralStorage(Parameters p, IDictionary<string, string> annotations)
    {
        if (!annotations.TryGetValue(EphemeralStorageAnnotation, out var text))
        {
            return;
        }

        var bytes = Quantity(text)?.ToDecimal();
        if (bytes is not { } size || size < BytesPerGiB)
        {
            throw InvalidAnnotation(EphemeralStorageAnnotation, $"'{text}' is not a size of at least 1Gi (e.g. 20Gi)");
        }

        // The API counts whole GiB: a fraction is rounded up so the pod gets at least what it asked for.
        p.Add("EphemeralStorage", (long)Math.Ceiling(size / BytesPerGiB));
    }

    private static void AddEip(Parameters p, IDictionary<string, string> annotations)
    {
        var withEip = annotations.TryGetValue(WithEipAnnotation, out var withText) && Boolean(WithEipAnnotation, withText);
        int? bandwidth = null;
        if (annotations.TryGetValue(EipBandwidthAnnotation, out var bandwidthText))
        {
            bandwidth = int.TryParse(bandwidthText.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var mbps) && mbps > 0
                ? mbps
                : throw InvalidAnnotation(EipBandwidthAnnotation, $"'{bandwidthText}' is not a whole number of Mbit/s (e.g. 5)");
        }

        var instanceId = annotations.TryGetValue(EipInstanceIdAnnotation, out var idText)
            ? Id(EipInstanceIdAnnotation, idText, "eip-", "EIP")
            : null;
        if (withEip && instanceId is not null)
        {
            throw InvalidAnnotation(WithEipAnnotation, $"'true' and {EipInstanceIdAnnotation} '{idText}' both ask for an EIP; keep one");
        }

        if (withEip)
        {
            p.Add("AutoCreateEip", true);
            p.Add("EipBandwidth", bandwidth);
        }

        p.Add("EipInstanceId", instanceId);
    }

    private static void AddLifetime(Parameters p, V1PodSpec spec)
    {
        p.Add("ActiveDeadlineSeconds", spec.ActiveDeadlineSeconds);
        p.Add("TerminationGracePeriodSeconds", spec.TerminationGracePeriodSeconds);
    }

    private static void AddDns(Parameters p, V1PodSpec spec)
    {
        // ECI knows Default (the VPC's resolver) and None (DnsConfig only). ClusterFirst is left to the
        // instance's default: the provider does not know the cluster's DNS service.
        if (spec.DnsPolicy is "Default" or "None")
        {
            p.Add("DnsPolicy", spec.DnsPolicy);
        }

        if (spec.DnsConfig is { } dns)
        {
            p.AddEach("DnsConfig.NameServer", dns.Nameservers);
            p.AddEach("DnsConfig.Search", dns.Searches);
            for (var i = 0; i < (dns.Options?.Count ?? 0); i++)
            {
                var option = Nth("DnsConfig.Option", i);
                p.Add(option + ".Name", dns.Options![i].Name);
                p.Add(option + ".Value", dns.Options[i].Value);
            }
        }
    }

    private static void AddHostAliases(Parameters p, IList<V1HostAlias>? aliases)
    {
        for (var i = 0; i < (aliases?.Count ?? 0); i++)
        {
            var alias = Nth("HostAliase", i);
            p.Add(alias + ".Ip", aliases![i].Ip);
            p.AddEach(alias + ".Hostname", aliases[i].Hostnames);
        }
    }

    /// <summary>
    /// VNodeMesh's own tags, then every sim.vnodemesh.io/ annotation: a simulated cloud behind this API
    /// can honour them; a real ECI keeps them as plain tags.
    /// </summary>
    private static void AddTags(Parameters p, IReadOnlyDictionary<string, string> tags, IDictionary<string, string> annotations)
    {
        var simulator = annotations.Where(a => a.Key.StartsWith(SimulatorAnnotations.Prefix, StringComparison.Ordinal)).ToList();
        if (tags.Count + simulator.Count > MaxTags)
        {
            throw new InvalidSpecException("InvalidParameter.Tag",
                $"{tags.Count} VNodeMesh tags and {simulator.Count} {SimulatorAnnotations.Prefix} annotations make {tags.Count + simulator.Count} tags; a container group carries at most {MaxTags}");
        }

        var i = 0;
        foreach (var (key, value) in tags.OrderBy(t => t.Key, StringComparer.Ordinal).Concat(simulator.OrderBy(a => a.Key, StringComparer.Ordinal)))
        {
            var tag = Nth("Tag", i++);
            p.Add(tag + ".Key", key);
            p.Add(tag + ".Value", value);
        }
    }

    private static async Task AddRegistryCredentialsAsync(Parameters p, IList<V1LocalObjectReference>? pullSecrets, References lookup)
    {
        var servers = new HashSet<string>(StringComparer.Ordinal);
        var i = 0;
        foreach (var reference in pullSecrets ?? [])
        {
            if (string.IsNullOrEmpty(reference?.Name) || await lookup.GetAsync(SecretKind, reference.Name) is not { } secret)
            {
                continue; // kubelet only warns about a missing pull secret: the image may be public
            }

            foreach (var (server, userName, password) in DockerCredentials(lookup.Describe(SecretKind, reference.Name), secret))
            {
                if (servers.Add(server))
                {
                    var credential = Nth("ImageRegistryCredential", i++);
                    p.Add(credential + ".Server", server);
                    p.Add(credential + ".UserName", userName);
                    p.Add(credential + ".Password", password);
                }
            }
        }
    }

    /// <summary>The registries of a kubernetes.io/dockerconfigjson (or legacy dockercfg) Secret, in document order.</summary>
    private static List<(string Server, string UserName, string Password)> DockerCredentials(string secretName, IReadOnlyDictionary<string, byte[]> secret)
    {
        var (key, nested) = secret.ContainsKey(".dockerconfigjson") ? (".dockerconfigjson", true)
            : secret.ContainsKey(".dockercfg") ? (".dockercfg", false)
            : (null, false);
        var credentials = new List<(string, string, string)>();
        if (key is null)
        {
            return credentials; // not a registry secret: kubelet ignores it too
        }

        try
        {
            using var document = JsonDocument.Parse(secret[key]);
            var auths = nested ? document.RootElement.GetProperty("auths") : document.RootElement;
            foreach (var registry in auths.EnumerateObject())
            {
                var user = registry.Value.TryGetProperty("username", out var u) ? u.GetString() : null;
                var password = registry.Value.TryGetProperty("password", out var pw) ? pw.GetString() : null;
                if ((user is null || password is null) && registry.Value.TryGetProperty("auth", out var auth) && auth.GetString() is { Length: > 0 } encoded)
                {
                    var pair = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
                    var colon = pair.IndexOf(':');
                    (user, password) = colon > 0 ? (pair[..colon], pair[(colon + 1)..])
                        : throw new FormatException($"the auth of '{registry.Name}' is not base64 of user:password");
                }

                if (user is not null && password is not null)
                {
                    credentials.Add((RegistryHost(registry.Name), user, password));
                }
            }
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidSpecException("InvalidParameter.ImageRegistryCredential",
                $"spec.imagePullSecrets: {secretName} key {key} is not a Docker config ({e.Message})");
        }

        return credentials;
    }

    /// <summary>ECI wants the registry address without scheme or path (Docker configs often carry both).</summary>
    private static string RegistryHost(string server)
    {
        var host = server.Contains("://", StringComparison.Ordinal) ? server[(server.IndexOf("://", StringComparison.Ordinal) + 3)..] : server;
        var slash = host.IndexOf('/');
        return slash >= 0 ? host[..slash] : host;
    }

    private static async Task AddVolumesAsync(Parameters p, IList<V1Volume>? volumes, References lookup)
    {
        for (var i = 0; i < (volumes?.Count ?? 0); i++)
        {
            var volume = volumes![i];
            var prefix = Nth("Volume", i) + ".";
            var field = $"spec.volumes[{i}] (volume '{volume.Name}')";
            p.Add(prefix + "Name", volume.Name);
            if (volume.EmptyDir is { } emptyDir)
            {
                AddEmptyDir(p, prefix, emptyDir, field);
            }
            else if (volume.Nfs is { } nfs)
            {
                p.Add(prefix + "Type", "NFSVolume");
                p.Add(prefix + "NFSVolume.Server", nfs.Server);
                p.Add(prefix + "NFSVolume.Path", nfs.Path);
                p.Add(prefix + "NFSVolume.ReadOnly", nfs.ReadOnlyProperty);
            }
            else if (volume.ConfigMap is { } configMap)
            {
                var files = await ConfigFilesAsync(lookup, ConfigMapKind, configMap.Name, configMap.Items, configMap.Optional == true, field);
                AddConfigFiles(p, prefix, files);
            }
            else if (volume.Secret is { } secret)
            {
                var files = await ConfigFilesAsync(lookup, SecretKind, secret.SecretName, secret.Items, secret.Optional == true, field);
                AddConfigFiles(p, prefix, files);
            }
            else
            {
                throw new InvalidSpecException(PodAdmission.ReasonUnsupported,
                    $"{field}: {VolumeType(volume)} volumes are not supported on a virtual node (emptyDir, nfs, configMap and secret are)");
            }
        }
    }

    private static void AddEmptyDir(Parameters p, string prefix, V1EmptyDirVolumeSource emptyDir, string field)
    {
        p.Add(prefix + "Type", "EmptyDirVolume");
        switch (emptyDir.Medium)
        {
            case null or "":
                break;
            case "Memory":
                p.Add(prefix + "EmptyDirVolume.Medium", "Memory");
                break;
            default:
                throw new InvalidSpecException(PodAdmission.ReasonUnsupported, $"{field}: emptyDir medium '{emptyDir.Medium}' is not supported on a virtual node (only Memory is)");
        }

        p.Add(prefix + "EmptyDirVolume.SizeLimit", emptyDir.SizeLimit?.ToString());
    }

    /// <summary>A configMap or secret volume's files, as kubelet would project them; null = mount an empty directory.</summary>
    private static async Task<List<(string Path, byte[] Content)>?> ConfigFilesAsync(
        References lookup, string kind, string name, IList<V1KeyToPath>? items, bool optional, string field)
    {
        if (await lookup.GetAsync(kind, name) is not { } data)
        {
            return optional ? null
                : throw new TransientProviderException(MountError, $"{field}: {lookup.Describe(kind, name)} not found");
        }

        if (items is not { Count: > 0 })
        {
            return [.. data.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => (d.Key, d.Value))];
        }

        var files = new List<(string, byte[])>();
        foreach (var item in items)
        {
            if (data.TryGetValue(item.Key, out var content))
            {
                files.Add((item.Path, content));
            }
            else if (!optional)
            {
                throw new TransientProviderException(MountError, $"{field}: key '{item.Key}' not found in {lookup.Describe(kind, name)}");
            }
        }

        return files;
    }

    private static void AddConfigFiles(Parameters p, string prefix, List<(string Path, byte[] Content)>? files)
    {
        if (files is not { Count: > 0 })
        {
            // What kubelet mounts for an optional object that is missing or empty; a config file volume needs files.
            p.Add(prefix + "Type", "EmptyDirVolume");
            return;
        }

        p.Add(prefix + "Type", "ConfigFileVolume");
        for (var i = 0; i < files.Count; i++)
        {
            var file = Nth(prefix + "ConfigFileVolume.ConfigFileToPath", i);
            p.Add(file + ".Path", files[i].Path);
            p.Add(file + ".Content", Convert.ToBase64String(files[i].Content));
        }
    }

    /// <summary>The volume source's name as in the manifest (hostPath, persistentVolumeClaim, …).</summary>
    private static string VolumeType(V1Volume volume) =>
        typeof(V1Volume).GetProperties()
            .Where(property => property.Name != nameof(V1Volume.Name) && property.GetValue(volume) is not null)
            .Select(property => property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? property.Name)
            .FirstOrDefault() ?? "empty";

    private static async Task AddContainersAsync(Parameters p, string kind, string field, IList<V1Container>? containers, PodContext context)
    {
        for (var i = 0; i < (containers?.Count ?? 0); i++)
        {
            var container = containers![i];
            var prefix = Nth(kind, i) + ".";
            var where = $"spec.{field}[{i}] (container '{container.Name}')";
            p.Add(prefix + "Name", container.Name);
            p.Add(prefix + "Image", container.Image);
            p.Add(prefix + "ImagePullPolicy", container.ImagePullPolicy);
            p.Add(prefix + "WorkingDir", container.WorkingDir);
            p.AddEach(prefix + "Command", container.Command);
            p.AddEach(prefix + "Arg", container.Args);
            p.AddNumber(prefix + "Cpu", Cores(container));
            p.AddNumber(prefix + "Memory", MemoryGiB(container));
            AddPorts(p, prefix, container, where);
            AddMounts(p, prefix, container, where);
            await AddEnvironmentAsync(p, prefix, container, where, context);
            AddProbe(p, prefix + "LivenessProbe.", container.LivenessProbe, container, where + ".livenessProbe");
            AddProbe(p, prefix + "ReadinessProbe.", container.ReadinessProbe, container, where + ".readinessProbe");
        }
    }

    private static void AddPorts(Parameters p, string prefix, V1Container container, string where)
    {
        for (var i = 0; i < (container.Ports?.Count ?? 0); i++)
        {
            var port = container.Ports![i];
            var entry = Nth(prefix + "Port", i);
            p.Add(entry + ".Port", port.ContainerPort);
            var protocol = port.Protocol?.ToUpperInvariant();
            p.Add(entry + ".Protocol", protocol switch
            {
                null or "" => null,
                "TCP" or "UDP" => protocol,
                _ => throw new InvalidSpecException(PodAdmission.ReasonUnsupported, $"{where}.ports[{i}]: protocol '{port.Protocol}' is not supported on a virtual node (TCP and UDP are)"),
            });
        }
    }

    private static void AddMounts(Parameters p, string prefix, V1Container container, string where)
    {
        for (var i = 0; i < (container.VolumeMounts?.Count ?? 0); i++)
        {
            var mount = container.VolumeMounts![i];
            if (!string.IsNullOrEmpty(mount.SubPathExpr))
            {
                throw new InvalidSpecException(PodAdmission.ReasonUnsupported, $"{where}.volumeMounts[{i}].subPathExpr: not supported on a virtual node; use subPath");
            }

            var entry = Nth(prefix + "VolumeMount", i);
            p.Add(entry + ".Name", mount.Name);
            p.Add(entry + ".MountPath", mount.MountPath);
            p.Add(entry + ".ReadOnly", mount.ReadOnlyProperty);
            p.Add(entry + ".SubPath", string.IsNullOrEmpty(mount.SubPath) ? null : mount.SubPath);
        }
    }

    /// <summary>envFrom first, then env (a later definition of a name wins, as in kubelet).</summary>
    private static async Task AddEnvironmentAsync(Parameters p, string prefix, V1Container container, string where, PodContext context)
    {
        var variables = new List<(string Key, string? Value, string? FieldPath)>();
        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        void Set(string key, string? value, string? fieldPath)
        {
            if (positions.TryGetValue(key, out var at))
            {
                variables[at] = (key, value, fieldPath);
            }
            else
            {
                positions[key] = variables.Count;
                variables.Add((key, value, fieldPath));
            }
        }

        for (var i = 0; i < (container.EnvFrom?.Count ?? 0); i++)
        {
            var source = container.EnvFrom![i];
            var (kind, name, optional) = source switch
            {
                { ConfigMapRef: { } c } => (ConfigMapKind, c.Name, c.Optional == true),
                { SecretRef: { } s } => (SecretKind, s.Name, s.Optional == true),
                _ => throw new InvalidSpecException(PodAdmission.ReasonUnsupported, $"{where}.envFrom[{i}]: neither configMapRef nor secretRef"),
            };
            if (await context.Lookup.GetAsync(kind, name) is not { } data)
            {
                if (optional)
                {
                    continue;
                }

                throw new TransientProviderException(ConfigError, $"{where}.envFrom[{i}]: {context.Lookup.Describe(kind, name)} not found");
            }

            foreach (var (key, value) in data.OrderBy(d => d.Key, StringComparer.Ordinal))
            {
                var variable = source.Prefix + key;
                if (EnvVarName().IsMatch(variable))
                {
                    Set(variable, Encoding.UTF8.GetString(value), null); // kubelet skips keys that are not variable names
                }
            }
        }

        foreach (var variable in container.Env ?? [])
        {
            if (await ResolveAsync(variable, container, where, context) is { } resolved)
            {
                Set(variable.Name, resolved.Value, resolved.FieldPath);
            }
        }

        for (var i = 0; i < variables.Count; i++)
        {
            var entry = Nth(prefix + "EnvironmentVar", i);
            p.Add(entry + ".Key", variables[i].Key);
            p.Add(entry + ".Value", variables[i].Value);
            p.Add(entry + ".FieldRef.FieldPath", variables[i].FieldPath);
        }
    }

    /// <summary>A variable's literal value, or the field ECI fills in itself; null = left out (an optional reference that is missing).</summary>
    private static async Task<(string? Value, string? FieldPath)?> ResolveAsync(V1EnvVar variable, V1Container container, string where, PodContext context)
    {
        var what = $"{where}: env var '{variable.Name}'";
        switch (variable.ValueFrom)
        {
            case null:
                return (variable.Value ?? "", null);
            case { FieldRef: { } field }:
                return FieldValue(field.FieldPath, context.Pod, what);
            case { ResourceFieldRef: { } resource }:
                return (ResourceValue(resource, container, context, what), null);
            case { ConfigMapKeyRef: { } key }:
                return await KeyValueAsync(ConfigMapKind, key.Name, key.Key, key.Optional == true, context.Lookup, what);
            case { SecretKeyRef: { } key }:
                return await KeyValueAsync(SecretKind, key.Name, key.Key, key.Optional == true, context.Lookup, what);
            default:
                throw new InvalidSpecException(PodAdmission.ReasonUnsupported, $"{what}: this valueFrom is not supported on a virtual node");
        }
    }

    private static async Task<(string?, string?)?> KeyValueAsync(string kind, string name, string key, bool optional, References lookup, string what)
    {
        var data = await lookup.GetAsync(kind, name);
        if (data is not null && data.TryGetValue(key, out var value))
        {
            return (Encoding.UTF8.GetString(value), null);
        }

        // kubelet retries too: the object or key may still be created.
        return optional ? null
            : throw new TransientProviderException(ConfigError, data is null
                ? $"{what}: {lookup.Describe(kind, name)} not found"
                : $"{what}: key '{key}' not found in {lookup.Describe(kind, name)}");
    }

    /// <summary>The downward API for env: pod fields become literals; the pod IP is left for ECI to fill.</summary>
    private static (string? Value, string? FieldPath) FieldValue(string path, V1Pod pod, string what)
    {
        switch (path)
        {
            case "metadata.name": return (pod.Metadata?.Name ?? "", null);
            case "metadata.namespace": return (pod.Metadata?.NamespaceProperty ?? "", null);
            case "metadata.uid": return (pod.Metadata?.Uid ?? "", null);
            case "spec.nodeName": return (pod.Spec?.NodeName ?? "", null);
            case "spec.serviceAccountName": return (pod.Spec?.ServiceAccountName ?? "", null);
            // ECI fills only status.podIP; a single-stack instance has one IP, so podIPs is the same.
            case "status.podIP" or "status.podIPs": return (null, "status.podIP");
        }

        if (Subscript(path, "metadata.labels") is { } label)
        {
            return (pod.Metadata?.Labels?.TryGetValue(label, out var value) == true ? value : "", null);
        }

        if (Subscript(path, "metadata.annotations") is { } annotation)
        {
            return (pod.Metadata?.Annotations?.TryGetValue(annotation, out var value) == true ? value : "", null);
        }

        throw new InvalidSpecException(PodAdmission.ReasonUnsupported, $"{what}: fieldRef '{path}' is not supported on a virtual node");
    }

    private static string? Subscript(string path, string field) =>
        path.StartsWith(field + "['", StringComparison.Ordinal) && path.EndsWith("']", StringComparison.Ordinal) && path.Length > field.Length + 4
            ? path[(field.Length + 2)..^2]
            : null;

    /// <summary>
    /// resourceFieldRef as kubelet computes it: the value divided by the divisor, rounded up. Where kubelet
    /// falls back to the node's allocatable for a missing limit, the instance size (when known) is used, else the request.
    /// </summary>
    private static string ResourceValue(V1ResourceFieldSelector selector, V1Container self, PodContext context, string what)
    {
        var container = string.IsNullOrEmpty(selector.ContainerName) ? self
            : context.FindContainer(selector.ContainerName)
              ?? throw new InvalidSpecException("InvalidParameter.EnvironmentVar", $"{what}: resourceFieldRef names container '{selector.ContainerName}', which the pod does not have");
        var dot = selector.Resource.IndexOf('.');
        var (source, resource) = dot > 0 ? (selector.Resource[..dot], selector.Resource[(dot + 1)..]) : ("", selector.Resource);
        if (resource is not ("cpu" or "memory" or "ephemeral-storage") || source is not ("limits" or "requests"))
        {
            throw new InvalidSpecException(PodAdmission.ReasonUnsupported, $"{what}: resourceFieldRef '{selector.Resource}' is not supported on a virtual node");
        }

        var limit = Get(container.Resources?.Limits, resource);
        var request = Get(container.Resources?.Requests, resource);
        var value = source == "limits"
            ? limit ?? context.InstanceSize(resource) ?? request
            : request ?? limit ?? 0m;
        if (value is not { } amount)
        {
            throw new InvalidSpecException("InvalidParameter.EnvironmentVar",
                $"{what}: resourceFieldRef '{selector.Resource}' needs a limit or request on container '{container.Name}' (a virtual node has no allocatable to default to)");
        }

        var divisor = selector.Divisor?.ToDecimal() ?? 1m;
        if (divisor <= 0)
        {
            throw new InvalidSpecException("InvalidParameter.EnvironmentVar", $"{what}: resourceFieldRef divisor '{selector.Divisor}' must be positive");
        }

        return Math.Ceiling(amount / divisor).ToString("0", CultureInfo.InvariantCulture);
    }

    private static decimal? Get(IDictionary<string, ResourceQuantity>? resources, string name) =>
        resources is not null && resources.TryGetValue(name, out var quantity) && quantity is not null ? quantity.ToDecimal() : null;

    private static void AddProbe(Parameters p, string prefix, V1Probe? probe, V1Container container, string where)
    {
        if (probe is null)
        {
            return;
        }

        if (probe.HttpGet is { } http)
        {
            p.Add(prefix + "HttpGet.Path", http.Path);
            p.Add(prefix + "HttpGet.Port", PortNumber(http.Port, container, where + ".httpGet.port"));
            p.Add(prefix + "HttpGet.Scheme", http.Scheme);
        }
        else if (probe.Exec is { } exec)
        {
            p.AddEach(prefix + "Exec.Command", exec.Command);
        }
        else if (probe.TcpSocket is { } tcp)
        {
            p.Add(prefix + "TcpSocket.Port", PortNumber(tcp.Port, container, where + ".tcpSocket.port"));
        }
        else
        {
            throw new InvalidSpecException(PodAdmission.ReasonUnsupported, $"{where}: only httpGet, exec and tcpSocket probes are supported on a virtual node");
        }

        p.Add(prefix + "InitialDelaySeconds", probe.InitialDelaySeconds);
        p.Add(prefix + "PeriodSeconds", probe.PeriodSeconds);
        p.Add(prefix + "TimeoutSeconds", probe.TimeoutSeconds);
        p.Add(prefix + "SuccessThreshold", probe.SuccessThreshold);
        p.Add(prefix + "FailureThreshold", probe.FailureThreshold);
    }

    /// <summary>ECI takes port numbers only: a named port is looked up in the container's ports.</summary>
    private static int PortNumber(IntOrString port, V1Container container, string where)
    {
        if (int.TryParse(port.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return number;
        }

        return container.Ports?.FirstOrDefault(p => p.Name == port.Value)?.ContainerPort
            ?? throw new InvalidSpecException("InvalidParameter.Probe", $"{where}: '{port.Value}' is not a named port of container '{container.Name}'");
    }

    private static decimal? Cores(V1Container container) => Requested(container, "cpu");

    private static decimal? MemoryGiB(V1Container container) => Requested(container, "memory") / BytesPerGiB;

    /// <summary>A container's limit, else its request: what ECI sizes the container by.</summary>
    private static decimal? Requested(V1Container container, string resource) =>
        Get(container.Resources?.Limits, resource) ?? Get(container.Resources?.Requests, resource);

    private static IReadOnlyList<string> Ids(string annotation, string text, string idPrefix, string what)
    {
        var ids = text.Split(',', StringSplitOptions.TrimEntries);
        return ids.All(id => IsId(id, idPrefix)) ? ids
            : throw InvalidAnnotation(annotation, $"'{text}' is not a comma-separated list of {what} ids ({idPrefix}…)");
    }

    private static string Id(string annotation, string text, string idPrefix, string what) =>
        IsId(text.Trim(), idPrefix) ? text.Trim()
            : throw InvalidAnnotation(annotation, $"'{text}' is not an {what} id ({idPrefix}…)");

    private static bool IsId(string id, string idPrefix) =>
        id.Length > idPrefix.Length && id.StartsWith(idPrefix, StringComparison.Ordinal) && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>One of the allowed values, matched without regard to case (the product's own examples differ) and spelled as the API wants.</summary>
    private static string OneOf(string annotation, string text, params string[] allowed) =>
        allowed.FirstOrDefault(a => a.Equals(text.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw InvalidAnnotation(annotation, $"'{text}' is not one of {string.Join(", ", allowed)}");

    private static bool Boolean(string annotation, string text) => text.Trim().ToLowerInvariant() switch
    {
        "true" => true,
        "false" => false,
        _ => throw InvalidAnnotation(annotation, $"'{text}' is not true or false"),
    };

    private static ResourceQuantity? Quantity(string text)
    {
        try
        {
            return new ResourceQuantity(text.Trim());
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            return null;
        }
    }

    private static InvalidSpecException InvalidAnnotation(string annotation, string problem) =>
        new(PodAdmission.ReasonInvalidAnnotation, $"metadata.annotations[{annotation}]: {problem}");

    /// <summary>"Prefix.N" for the index-th entry of a list: the API counts from 1.</summary>
    private static string Nth(string prefix, int index) => string.Create(CultureInfo.InvariantCulture, $"{prefix}.{index + 1}");

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,126}[a-z0-9]$")]
    private static partial Regex ContainerGroupNamePattern();

    // kubelet's rule for names taken from envFrom (validation.IsEnvVarName).
    [GeneratedRegex("^[-._a-zA-Z][-._a-zA-Z0-9]*$")]
    private static partial Regex EnvVarName();

    /// <summary>The parameter list, in the order fields are added; absent values are left out.</summary>
    private sealed class Parameters
    {
        private readonly List<KeyValuePair<string, string>> _items = [];

        public IReadOnlyList<KeyValuePair<string, string>> Items => _items;

        public void Add(string key, string? value)
        {
            if (value is not null)
            {
                _items.Add(new(key, value));
            }
        }

        public void Add(string key, long? value) => Add(key, value?.ToString(CultureInfo.InvariantCulture));

        public void Add(string key, bool? value) => Add(key, value is { } b ? (b ? "true" : "false") : null);

        /// <summary>vCPU and GiB: always with a decimal point ("2.0"), as the API documents them.</summary>
        public void AddNumber(string key, decimal? value) => Add(key, value?.ToString("0.0#######", CultureInfo.InvariantCulture));

        public void AddEach(string prefix, IEnumerable<string>? values)
        {
            var i = 0;
            foreach (var value in values ?? [])
            {
                Add(Nth(prefix, i++), value);
            }
        }
    }

    /// <summary>ConfigMaps and Secrets of the pod's namespace, each read once per request; ConfigMap values as UTF-8.</summary>
    private sealed class References(IPodReferenceSource source, string @namespace, CancellationToken cancellationToken)
    {
        private readonly Dictionary<(string Kind, string Name), IReadOnlyDictionary<string, byte[]>?> _objects = [];

        public async Task<IReadOnlyDictionary<string, byte[]>?> GetAsync(string kind, string name)
        {
            if (!_objects.TryGetValue((kind, name), out var data))
            {
                data = kind == SecretKind
                    ? await source.GetSecretAsync(@namespace, name, cancellationToken)
                    : (await source.GetConfigMapAsync(@namespace, name, cancellationToken))?.ToDictionary(d => d.Key, d => Encoding.UTF8.GetBytes(d.Value), StringComparer.Ordinal);
                _objects[(kind, name)] = data;
            }

            return data;
        }

        public string Describe(string kind, string name) => $"{kind} '{@namespace}/{name}'";
    }

    private sealed class PodContext(V1Pod pod, InstanceSpec? chosen, References lookup)
    {
        public V1Pod Pod => pod;

        public References Lookup => lookup;

        public V1Container? FindContainer(string name) =>
            (pod.Spec?.Containers ?? []).Concat(pod.Spec?.InitContainers ?? []).FirstOrDefault(c => c.Name == name);

        /// <summary>The instance's size when a vCPU-memory spec was chosen: what a container without a limit may use.</summary>
        public decimal? InstanceSize(string resource) => (resource, chosen) switch
        {
            ("cpu", { Cpu: { } cpu }) => (decimal)cpu,
            ("memory", { MemoryGiB: { } gib }) => (decimal)gib * BytesPerGiB,
            _ => null,
        };
    }
}

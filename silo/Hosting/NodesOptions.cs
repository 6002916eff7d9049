using System.ComponentModel.DataAnnotations;

namespace VNodeMesh.Silo.Hosting;

/// <summary>The virtual nodes this silo cluster serves (section <c>VNodeMesh:Nodes</c>), for example one per zone.</summary>
public sealed class NodesOptions
{
    public const string Section = "VNodeMesh:Nodes";

    public const string DefaultNodeName = "vnodemesh-virtual-node";

    /// <summary>When none is configured, one node named <see cref="DefaultNodeName"/>.</summary>
    public List<VirtualNodeDefinition> Items { get; set; } = [];

    /// <summary>How often each node is checked to be active; a node whose silo died comes back on the next check.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(2);

    public VirtualNodeDefinition? Find(string name) => Items.Find(n => n.Name == name);
}

/// <summary>One virtual node: its name in Kubernetes, where its instances run, and how it is labelled and tainted.</summary>
public sealed class VirtualNodeDefinition
{
    /// <summary>The Node's name: a DNS-1123 subdomain.</summary>
    [Required, RegularExpression("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", ErrorMessage = "The Name field must be a lowercase DNS-1123 subdomain (a-z, 0-9, '-', '.').")]
    public string Name { get; set; } = "";

    public string? Region { get; set; }

    public string? Zone { get; set; }

    public List<string> VSwitches { get; set; } = [];

    public string? SecurityGroup { get; set; }

    /// <summary>Added to the standard virtual-kubelet labels.</summary>
    public Dictionary<string, string> Labels { get; set; } = [];

    /// <summary>Added to the <c>virtual-kubelet.io/provider</c> taint.</summary>
    public List<TaintDefinition> Taints { get; set; } = [];
}

public sealed class TaintDefinition
{
    [Required]
    public string Key { get; set; } = "";

    public string? Value { get; set; }

    [Required, RegularExpression("^(NoSchedule|PreferNoSchedule|NoExecute)$", ErrorMessage = "The Effect field must be NoSchedule, PreferNoSchedule or NoExecute.")]
    public string Effect { get; set; } = "NoSchedule";
}

/// <summary>Validates every node definition, and that names are unique; the message names the node and field.</summary>
public sealed class NodesOptionsValidator : IValidateOptions<NodesOptions>
{
    public ValidateOptionsResult Validate(string? name, NodesOptions options)
    {
        var failures = new List<string>();
        for (var i = 0; i < options.Items.Count; i++)
        {
            var node = options.Items[i];
            Check(node, $"{NodesOptions.Section}:Items:{i}", failures);
            for (var t = 0; t < node.Taints.Count; t++)
            {
                Check(node.Taints[t], $"{NodesOptions.Section}:Items:{i}:Taints:{t}", failures);
            }
        }

        foreach (var duplicate in options.Items.GroupBy(n => n.Name).Where(g => g.Count() > 1))
        {
            failures.Add($"{NodesOptions.Section}:Items: node name '{duplicate.Key}' is configured {duplicate.Count()} times");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Check(object item, string path, List<string> failures)
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(item, new ValidationContext(item), results, validateAllProperties: true))
        {
            failures.AddRange(results.Select(r => $"{path}: {r.ErrorMessage}"));
        }
    }
}

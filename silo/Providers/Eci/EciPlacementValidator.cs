using VNodeMesh.Silo.Hosting;

namespace VNodeMesh.Silo.Providers.Eci;

/// <summary>Every virtual node must know where its instances go: ECI refuses a create without a vSwitch and a security group.</summary>
public sealed class EciPlacementValidator(IOptions<NodesOptions> nodes) : IValidateOptions<EciOptions>
{
    public ValidateOptionsResult Validate(string? name, EciOptions options)
    {
        var failures = new List<string>();
        foreach (var node in nodes.Value.Items)
        {
            if (node.VSwitches.Count == 0 && options.VSwitches.Count == 0)
            {
                failures.Add($"Virtual node {node.Name} has no vSwitch: set {NodesOptions.Section}:Items:N:VSwitches or {EciOptions.Section}:VSwitches.");
            }

            if (string.IsNullOrEmpty(node.SecurityGroup) && string.IsNullOrEmpty(options.SecurityGroup))
            {
                failures.Add($"Virtual node {node.Name} has no security group: set {NodesOptions.Section}:Items:N:SecurityGroup or {EciOptions.Section}:SecurityGroup.");
            }

            if (node.Region is { Length: > 0 } region && region != options.Region)
            {
                failures.Add($"Virtual node {node.Name} is in region {region}, but {EciOptions.Section}:Region is {options.Region}.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

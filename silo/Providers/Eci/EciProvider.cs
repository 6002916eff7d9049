using System.Globalization;
using System.Text.Json;
using VNodeMesh.Silo.Hosting;

namespace VNodeMesh.Silo.Providers.Eci;

/// <summary>
/// Elastic Container Instance through its OpenAPI (version 2018-08-08): a pod becomes one container
/// group, created with a client token derived from the pod UID, so a retried create returns the
/// instance it made instead of making a second.
/// </summary>
public sealed class EciProvider(
    EciApiClient api,
    IOptions<EciOptions> options,
    IOptions<NodesOptions> nodes,
    IPodReferenceSource references) : IInstanceProvider
{
    public const string ProviderName = "eci";

    public string Name => ProviderName;

    public async Task<CreateContainerGroupResult> CreateContainerGroupAsync(CreateContainerGroupRequest request, CancellationToken cancellationToken = default)
    {
        var parameters = await ContainerGroupParameters.ForCreateAsync(request, PlacementOf(request), references, cancellationToken);
        var answer = await api.CallAsync("CreateContainerGroup", parameters, cancellationToken);
        var id = answer.String("ContainerGroupId")
            ?? throw new TransientProviderException("MalformedAnswer", "CreateContainerGroup answered without a ContainerGroupId");
        return new CreateContainerGroupResult(id, answer.String("RequestId") ?? "", ZoneId: null, request.Spec?.Text);
    }

    public async Task<IReadOnlyList<ContainerGroup>> DescribeContainerGroupStatusAsync(IReadOnlyList<string> containerGroupIds, CancellationToken cancellationToken = default)
    {
        if (containerGroupIds.Count > IInstanceProvider.MaxStatusIds)
        {
            throw new InvalidSpecException("InvalidParameter.ContainerGroupIds", $"At most {IInstanceProvider.MaxStatusIds} container group ids per call, got {containerGroupIds.Count}.");
        }

        var answer = await api.CallAsync("DescribeContainerGroupStatus", Region(("ContainerGroupIds", JsonSerializer.Serialize(containerGroupIds))), cancellationToken);
        return [.. Items(answer, "Data").Select(EciWire.ParseStatus)];
    }

    public async Task<ContainerGroupPage> DescribeChangedContainerGroupStatusAsync(ChangedSinceQuery query, CancellationToken cancellationToken = default)
    {
        var parameters = Region(("SinceSecond", Invariant(query.SinceSeconds)), ("Limit", Invariant(Math.Clamp(query.Limit, 1, ChangedSinceQuery.MaxLimit))));
        AddPaging(parameters, query.NextToken, query.Tags);
        var answer = await api.CallAsync("DescribeContainerGroupStatus", parameters, cancellationToken);
        return new([.. Items(answer, "Data").Select(EciWire.ParseStatus)], NextToken(answer));
    }

    public async Task<ContainerGroupPage> DescribeContainerGroupsAsync(DescribeContainerGroupsQuery query, CancellationToken cancellationToken = default)
    {
        var parameters = Region(("Limit", Invariant(Math.Clamp(query.Limit, 1, DescribeContainerGroupsQuery.MaxLimit))));
        if (query.ContainerGroupIds is { Count: > 0 } ids)
        {
            parameters.Add(new("ContainerGroupIds", JsonSerializer.Serialize(ids)));
        }

        AddPaging(parameters, query.NextToken, query.Tags);
        var answer = await api.CallAsync("DescribeContainerGroups", parameters, cancellationToken);
        return new([.. Items(answer, "ContainerGroups").Select(EciWire.ParseGroup)], NextToken(answer));
    }

    public Task DeleteContainerGroupAsync(string containerGroupId, CancellationToken cancellationToken = default) =>
        api.CallAsync("DeleteContainerGroup", Region(("ContainerGroupId", containerGroupId)), cancellationToken);

    public async Task<IReadOnlyList<ContainerGroupEvent>> DescribeContainerGroupEventsAsync(string containerGroupId, CancellationToken cancellationToken = default)
    {
        var answer = await api.CallAsync("DescribeContainerGroupEvents", Region(("ContainerGroupIds", JsonSerializer.Serialize(new[] { containerGroupId }))), cancellationToken);
        return [.. Items(answer, "Data")
            .Where(group => group.String("ContainerGroupId") == containerGroupId)
            .SelectMany(group => Items(group, "Events"))
            .Select(EciWire.ParseEvent)];
    }

    public async Task<string> DescribeContainerLogAsync(string containerGroupId, string containerName, int? tailLines = null, CancellationToken cancellationToken = default)
    {
        var parameters = Region(("ContainerGroupId", containerGroupId), ("ContainerName", containerName));
        if (tailLines is { } tail)
        {
            parameters.Add(new("Tail", Invariant(tail)));
        }

        var answer = await api.CallAsync("DescribeContainerLog", parameters, cancellationToken);
        return answer.String("Content") ?? "";
    }

    /// <summary>The node's own region, vSwitches and security group, else the account's defaults.</summary>
    private EciPlacement PlacementOf(CreateContainerGroupRequest request)
    {
        var eci = options.Value;
        var node = request.Tags.TryGetValue(ContainerGroupTags.Node, out var name) ? nodes.Value.Find(name) : null;
        return new EciPlacement(
            eci.Region,
            node?.VSwitches is { Count: > 0 } vSwitches ? vSwitches : eci.VSwitches,
            node?.SecurityGroup ?? eci.SecurityGroup);
    }

    private List<KeyValuePair<string, string>> Region(params ReadOnlySpan<(string Key, string Value)> parameters)
    {
        var list = new List<KeyValuePair<string, string>> { new("RegionId", options.Value.Region) };
        foreach (var (key, value) in parameters)
        {
            list.Add(new(key, value));
        }

        return list;
    }

    private static void AddPaging(List<KeyValuePair<string, string>> parameters, string? nextToken, IReadOnlyDictionary<string, string>? tags)
    {
        if (!string.IsNullOrEmpty(nextToken))
        {
            parameters.Add(new("NextToken", nextToken));
        }

        var n = 0;
        foreach (var (key, value) in tags ?? new Dictionary<string, string>())
        {
            n++;
            parameters.Add(new($"Tag.{n}.Key", key));
            parameters.Add(new($"Tag.{n}.Value", value));
        }
    }

    private static IEnumerable<JsonElement> Items(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray()
            : [];

    private static string? NextToken(JsonElement answer) => answer.String("NextToken") is { Length: > 0 } token ? token : null;

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}

namespace VNodeMesh.Grains;

/// <summary>The grain storage provider every VNodeMesh grain persists to.</summary>
public static class VNodeMeshStorage
{
    public const string Name = "vnodemesh";
}

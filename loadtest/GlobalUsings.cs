global using VNodeMesh.Contracts.Grains;
global using VNodeMesh.Contracts.Lifecycle;

global using VNodeMesh.Contracts.Lifecycle;
global using VNodeMesh.Contracts.Provider;

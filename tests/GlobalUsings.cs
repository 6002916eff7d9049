global using VNodeMesh.Contracts.Grains;
global using VNodeMesh.Contracts.Lifecycle;
global using VNodeMesh.Contracts.Provider;
global using Xunit;

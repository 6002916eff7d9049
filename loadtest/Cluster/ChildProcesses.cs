using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VNodeMesh.LoadTest.Cluster;

/// <summary>
/// The processes this tool started and has not yet seen exit. They are killed when the tool exits
/// however it exits (normally, on Ctrl+C, SIGTERM or SIGHUP, or on an unhandled exception), so a
/// run never leaves a silo behind. Only processes registered here are ever signalled.
/// </summary>
public static class ChildProcesses
{
    private const int SigTerm = 15;

    private static readonly ConcurrentDictionary<int, Process> Live = new();
    private static readonly Lock Gate = new();
    private static readonly List<PosixSignalRegistration> Signals = [];
    private static bool _hooked;

    /// <summary>Tracks a process this tool has just started.</summary>
    public static void Register(Process process)
    {
        HookExit();
        Live[process.Id] = process;
    }

    public static void Unregister(Process process) => Live.TryRemove(new KeyValuePair<int, Process>(process.Id, process));

    /// <summary>SIGKILL to every process still registered (never to anything else).</summary>
    public static void KillAll()
    {
        foreach (var process in Live.Values)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill();
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // it exited meanwhile
            }
        }
    }

    /// <summary>SIGTERM to a process this tool started; false when it is not running.</summary>
    public static bool Terminate(Process process)
    {
        if (!Live.ContainsKey(process.Id) || process.HasExited)
        {
            return false;
        }

        return SendSignal(process.Id, SigTerm) == 0;
    }

    private static void HookExit()
    {
        lock (Gate)
        {
            if (_hooked)
            {
                return;
            }

            _hooked = true;
            AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
            AppDomain.CurrentDomain.UnhandledException += (_, _) => KillAll();
            // A closed terminal ends the tool without ProcessExit; SIGINT and SIGTERM end in ProcessExit.
            Signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, _ => KillAll()));
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);
}

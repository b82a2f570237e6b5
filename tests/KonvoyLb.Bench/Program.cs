using KonvoyLb.Bench;

// Usage: KonvoyLb.Bench <benchmark> <markdown output file>
var benchmarks = new Dictionary<string, Func<string>>
{
    ["analysis"] = AnalysisBench.Run,
    ["reachability"] = ReachabilityBench.Run,
    ["restart"] = RestartBench.Run,
    ["bgp-fuzz"] = BgpFuzzBench.Run,
    ["bgp"] = BgpBench.Run,
    ["controller"] = ControllerBench.Run,
    ["speaker"] = SpeakerBench.Run,
    ["speaker-rss"] = SpeakerBench.RunRss,
    ["speaker-bgp"] = SpeakerBgpBench.Run,
    ["container"] = ContainerBench.Run,
    ["inventory"] = InventoryBench.Run,
};
if (args.Length != 2 || !benchmarks.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: KonvoyLb.Bench <{string.Join("|", benchmarks.Keys)}> <output.md>");
    return 2;
}
string markdown = run();
File.WriteAllText(args[1], markdown);
Console.WriteLine(markdown);
return 0;

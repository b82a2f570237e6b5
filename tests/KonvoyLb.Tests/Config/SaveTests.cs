using KonvoyLb.Engine.Config;

namespace KonvoyLb.Tests.Config;

public class SaveTests
{
    [Fact]
    public void Saving_through_a_symbolic_link_edits_the_target_and_keeps_the_link()
    {
        if (OperatingSystem.IsWindows()) return; // creating links needs privileges there
        var real = TestFiles.Temp(TestFiles.Read("onprem-v1beta2.cluster.yaml"));
        var dir = Directory.CreateTempSubdirectory("konvoylb-link-");
        var link = Path.Combine(dir.FullName, "cluster.yaml");
        File.CreateSymbolicLink(link, real);

        var file = KonvoyFile.Load(link);
        var config = file.Addon!.Config.Clone();
        ConfigChanges.SetCommunity(config, "no-export", "65535:65281");
        file.Save(file.Plan(config));

        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.Contains("no-export: 65535:65281", File.ReadAllText(real));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(real)!, "*.tmp"));
    }
}

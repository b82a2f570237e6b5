// pwsh itself: the console host of the PowerShell SDK, with pwsh's command line.
return Microsoft.PowerShell.ConsoleShell.Start(null, null, args);

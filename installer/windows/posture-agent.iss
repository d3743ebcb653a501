; Inno Setup 6 script: packs the PyInstaller folder (dist\posture-agent, built on Windows by
; `python installer\build.py`) into one setup program for the current user (no admin rights).
; Compile: "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" installer\windows\posture-agent.iss
; Output: dist\posture-agent-setup-<version>.exe
;
; The optional "start at login" task writes the same per-user Run value that
; `posture-agent autostart enable` writes (HKCU\...\Run, value "posture-agent"), so either one
; can turn it off, and the uninstaller removes it.
; Not compiled or run on Windows by this project's CI: its tests check this file's contents only.

#define AppName "Posture Agent"
; AppVersion is kept equal to posture_agent.__version__ by a test; ISCC /DAppVersion=x overrides it.
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppExe "posture-agent-app.exe"
#define BuildDir "..\..\dist\posture-agent"

[Setup]
AppId={{6C1F5E2A-8B7D-4E0A-9D42-5B3A1F7C2E91}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=posture-agent
DefaultDirName={localappdata}\Programs\posture-agent
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename=posture-agent-setup-{#AppVersion}
SetupIconFile=..\..\assets\icons\posture-agent.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
ArchitecturesInstallIn64BitMode=x64compatible
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "autostart"; Description: "Start {#AppName} when I log in"; GroupDescription: "Start-up:"; Flags: unchecked

[Files]
Source: "{#BuildDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Posture nudges, drills and recovery rules"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"

[Registry]
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "posture-agent"; ValueData: """{app}\{#AppExe}"" start"; Tasks: autostart; Flags: uninsdeletevalue

[Run]
Filename: "{app}\{#AppExe}"; Description: "Start {#AppName} now"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; Stop a running agent first, so its files can be removed.
Filename: "{sys}\taskkill.exe"; Parameters: "/F /IM {#AppExe}"; Flags: runhidden; RunOnceId: "StopAgent"

[UninstallDelete]
Type: dirifempty; Name: "{app}"

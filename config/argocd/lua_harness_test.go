package argocd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// healthCodes are the statuses Argo CD accepts from a health script; any other
// value it turns into Unknown with "Lua returned an invalid health status".
var healthCodes = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

// argoLibraries are the libraries Argo CD opens for a health script from
// argocd-cm unless resource.customizations.useOpenLibs is set for the kind:
// the base functions, package and table. Not string, math, os or io, so a
// script that calls them fails here as it would in Argo CD.
var argoLibraries = []struct {
	name string
	open lua.LGFunction
}{
	{lua.LoadLibName, lua.OpenPackage},
	{lua.BaseLibName, lua.OpenBase},
	{lua.TabLibName, lua.OpenTable},
}

// health is what a script returned.
type health struct {
	Status  string
	Message string
}

// objectOf turns a typed object into what Argo CD's cache holds: its JSON
// decoded as unstructured (integers as int64), as the API server sends it.
func objectOf(t *testing.T, typed any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(typed)
	if err != nil {
		t.Fatalf("marshal %T: %v", typed, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		t.Fatalf("decode %T as unstructured: %v", typed, err)
	}
	return u.Object
}

// compile compiles a script once, as Argo CD caches compiled scripts.
func compile(script string) (*lua.FunctionProto, error) {
	chunk, err := parse.Parse(strings.NewReader(script), "health.lua")
	if err != nil {
		return nil, fmt.Errorf("parse the health script: %w", err)
	}
	proto, err := lua.Compile(chunk, "health.lua")
	if err != nil {
		return nil, fmt.Errorf("compile the health script: %w", err)
	}
	return proto, nil
}

// runHealth compiles and runs script with obj as the global obj.
func runHealth(script string, obj map[string]any) (health, error) {
	proto, err := compile(script)
	if err != nil {
		return health{}, err
	}
	return runCompiled(proto, obj)
}

// runCompiled runs a health script the way Argo CD does: a fresh state with
// only argoLibraries, a one-second limit, obj as the global obj, and the table
// the chunk returns read as {status, message}.
func runCompiled(proto *lua.FunctionProto, obj map[string]any) (health, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range argoLibraries {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			return health{}, fmt.Errorf("open Lua library %q: %w", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	L.SetContext(ctx)
	value, err := toLua(L, obj)
	if err != nil {
		return health{}, err
	}
	L.SetGlobal("obj", value)
	L.Push(L.NewFunctionFromProto(proto))
	if err := L.PCall(0, lua.MultRet, nil); err != nil {
		return health{}, fmt.Errorf("run the health script: %w", err)
	}
	return readHealth(L.Get(-1))
}

func readHealth(returned lua.LValue) (health, error) {
	table, ok := returned.(*lua.LTable)
	if !ok {
		return health{}, fmt.Errorf("the script returned %s, want a table", returned.Type())
	}
	status, ok := table.RawGetString("status").(lua.LString)
	if !ok || !healthCodes[string(status)] {
		return health{}, fmt.Errorf("the script returned status %v, want one of Argo CD's health statuses", table.RawGetString("status"))
	}
	h := health{Status: string(status)}
	switch message := table.RawGetString("message").(type) {
	case lua.LString:
		h.Message = string(message)
	case *lua.LNilType:
	default:
		// Argo CD decodes the table into a struct with a string message; any
		// other type fails the whole health assessment.
		return health{}, fmt.Errorf("the script returned a %s message, want a string", message.Type())
	}
	return h, nil
}

// toLua converts a decoded JSON value to Lua as Argo CD hands obj to a
// script: objects and arrays become tables (arrays indexed from 1), numbers
// LNumber, JSON null nil.
func toLua(L *lua.LState, value any) (lua.LValue, error) {
	switch v := value.(type) {
	case nil:
		return lua.LNil, nil
	case bool:
		return lua.LBool(v), nil
	case string:
		return lua.LString(v), nil
	case int64:
		return lua.LNumber(v), nil
	case float64:
		return lua.LNumber(v), nil
	case []any:
		table := L.CreateTable(len(v), 0)
		for _, item := range v {
			converted, err := toLua(L, item)
			if err != nil {
				return nil, err
			}
			table.Append(converted)
		}
		return table, nil
	case map[string]any:
		table := L.CreateTable(0, len(v))
		for key, item := range v {
			converted, err := toLua(L, item)
			if err != nil {
				return nil, err
			}
			table.RawSetString(key, converted)
		}
		return table, nil
	}
	return nil, fmt.Errorf("no Lua value for %T", value)
}

func TestHarnessWithholdsTheLibrariesArgoCDWithholds(t *testing.T) {
	cases := map[string]string{
		"string library":            `return {status = string.upper("healthy")}`,
		"string methods":            `local s = "Healthy"; return {status = s:sub(1)}`,
		"math library":              `return {status = "Healthy", message = tostring(math.floor(1.5))}`,
		"os library":                `return {status = "Healthy", message = os.getenv("HOME")}`,
		"io library":                `io.write("x"); return {status = "Healthy"}`,
		"an invalid status":         `return {status = "Fine"}`,
		"a message that is a table": `return {status = "Healthy", message = {}}`,
		"no table":                  `return "Healthy"`,
	}
	for name, script := range cases {
		t.Run(name, func(t *testing.T) {
			if got, err := runHealth(script, map[string]any{}); err == nil {
				t.Fatalf("the script ran and returned %+v; want it refused", got)
			}
		})
	}
	got, err := runHealth(`local t = {}; table.insert(t, obj.kind); return {status = "Healthy", message = t[1] .. " " .. tostring(#t)}`,
		map[string]any{"kind": "Probe"})
	if err != nil || got != (health{Status: "Healthy", Message: "Probe 1"}) {
		t.Fatalf("base and table: got %+v, %v; want Healthy, Probe 1", got, err)
	}
}

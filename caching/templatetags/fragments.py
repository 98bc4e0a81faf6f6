from django import template
from django.template.base import token_kwargs

from caching import fragments

register = template.Library()


class FragmentNode(template.Node):
    def __init__(self, template_name, values) -> None:
        self.template_name = template_name
        self.values = values

    def render(self, context) -> str:
        values = {name: value.resolve(context) for name, value in self.values.items()}
        return fragments.render(self.template_name.resolve(context), values, context)


@register.tag
def fragment(parser, token):
    """Render a template from the given values alone, memoised by them (caching.fragments).

    ``{% fragment "inventory/_room_option.html" option=card %}``, or with an
    explicit memo key: ``{% fragment "x.html" key=k form=form %}``.
    """
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError(f"{bits[0]} takes a template name and name=value pairs.")
    values = token_kwargs(bits[2:], parser, support_legacy=False)
    if len(values) != len(bits) - 2:
        raise template.TemplateSyntaxError(f"{bits[0]} takes name=value pairs after the name.")
    return FragmentNode(parser.compile_filter(bits[1]), values)


@register.simple_tag(takes_context=True)
def filled(context, pieces):
    """Output pieces from caching.fragments.render_pieces with this request's values filled in."""
    return fragments.fill(pieces, context)
